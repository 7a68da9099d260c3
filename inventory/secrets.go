package inventory

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
	"golang.org/x/crypto/bcrypt"
)

// bcryptCost is what nats-server's own `nats server passwd` uses: for a
// password a person chose (the environment, a hand-edited secrets file).
const bcryptCost = 11

// generatedCost is the bcrypt cost of a password dcctl generated (24 random
// bytes, 192 bits). A server compares the hash at every login, leafnode
// links included, and at cost 11 that is ~0.1 s of its CPU: a hub that
// many leaf nodes (re)connect to at once spends seconds per wave on it, its
// logins time out, the links retry, and the hub never catches up (measured
// on the 50-host lab: docs/performance.md). Against a secret of 192 random
// bits the cost adds no strength: guessing it is out of reach at any cost.
const generatedCost = bcrypt.MinCost

// Secrets holds the NATS users' passwords. They never live in the inventory:
// they come from DCCTL_PASSWORD_<USER> or from <inventory>.secrets.toml,
// which only provision creates (random passwords, mode 0600), and only for a
// deployment where no server runs yet.
type Secrets struct {
	file  string
	users map[string]secretUser

	doc       secretsFile // what Save writes
	existed   bool
	generated []string
	dirty     bool

	// route is the password servers of a cluster authenticate their
	// routes with (cluster.authorization); routeGenerated when
	// PrepareSecrets just made it up.
	route          secretUser
	routeGenerated bool

	tlsCA    []byte
	tlsNodes map[string]NodeTLS

	// version counts the changes made after loading (see Version).
	version uint64
}

type secretUser struct {
	password string
	hash     string
	fromEnv  bool
	// A rotation under way (see rotation.go): the new password and hash,
	// and how far the rollout got.
	next, nextHash string
	stage          RotationStage
}

// secretsFile is the on-disk shape. The bcrypt hashes are kept so that a
// re-render produces the same config (bcrypt salts are random): otherwise
// every run would look like a config change.
type secretsFile struct {
	Users map[string]secretsEntry `toml:"users"`
	// Route is the route password (cluster.authorization), shared by
	// every cluster of the deployment.
	Route *secretsEntry `toml:"route,omitempty"`
}

type secretsEntry struct {
	Password string `toml:"password,omitempty"`
	Bcrypt   string `toml:"bcrypt,omitempty"`
	// Checked binds Bcrypt to Password (see hashChecked) once the hash was
	// verified against the password: later loads skip bcrypt's deliberately
	// slow comparison (~150 ms per user at cost 11) unless either was edited.
	Checked   string `toml:"checked,omitempty"`
	EnvBcrypt string `toml:"env_bcrypt,omitempty"` // hash of the password last given through the environment
	// A rotation under way: the new password, its hash, and the stage the
	// rollout reached (rotation.go).
	NextPassword string        `toml:"next_password,omitempty"`
	NextBcrypt   string        `toml:"next_bcrypt,omitempty"`
	Rotation     RotationStage `toml:"rotation,omitempty"`
}

// hashChecked is what Checked holds for a password and its verified hash.
// It adds nothing an attacker could use: the password is beside it.
func hashChecked(password, hash string) string {
	sum := sha256.Sum256([]byte(hash + "\n" + password))
	return hex.EncodeToString(sum[:])
}

// SecretsPath is the secrets file beside the inventory:
// inventory.toml -> inventory.secrets.toml.
func SecretsPath(inventoryFile string) string {
	return strings.TrimSuffix(inventoryFile, ".toml") + ".secrets.toml"
}

// EnvVar is the environment variable that overrides a user's password:
// user "acc1" -> DCCTL_PASSWORD_ACC1.
func EnvVar(user string) string {
	var b strings.Builder
	b.WriteString("DCCTL_PASSWORD_")
	for _, r := range strings.ToUpper(user) {
		if (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// CheckSecretsFile refuses a secrets file that others can read. A missing
// file is not an error here (validate needs no passwords); LoadSecrets
// refuses it.
func CheckSecretsFile(inventoryFile string) error {
	path := SecretsPath(inventoryFile)
	st, err := os.Stat(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("secrets file: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("secrets file %s is readable by group or others (mode %04o): run chmod 600 %s", path, st.Mode().Perm(), path)
	}
	return nil
}

// LoadSecrets returns every inventory user's password and bcrypt hash. It
// never invents a password: a user with none in the secrets file or the
// environment is a *MissingSecretsError, and nothing is written. It only
// writes the file to cache bcrypt hashes (of edited or environment
// passwords). getenv is os.Getenv in production; tests pass their own.
func LoadSecrets(inv *Inventory, getenv func(string) string) (*Secrets, error) {
	s, err := readSecrets(inv, getenv, false)
	if err != nil {
		return nil, err
	}
	if s.dirty {
		if err := s.Save(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// PrepareSecrets is LoadSecrets for provision: a user with no password at
// all (no secrets file, or a user new to the inventory) gets a random one,
// in memory only. Generated and FileExists tell the caller what it would
// create; Save writes the file once the caller has made sure no server
// already runs with passwords it does not know. A user the file knows
// without a password (it came from the environment) is still refused.
func PrepareSecrets(inv *Inventory, getenv func(string) string) (*Secrets, error) {
	return readSecrets(inv, getenv, true)
}

func readSecrets(inv *Inventory, getenv func(string) string, generate bool) (*Secrets, error) {
	path := SecretsPath(inv.File)
	if err := CheckSecretsFile(inv.File); err != nil {
		return nil, err
	}
	var f secretsFile
	existed := false
	if data, err := os.ReadFile(path); err == nil {
		existed = true
		md, err := toml.Decode(string(data), &f)
		if err != nil {
			// the decoder's message may quote the line, which may hold a password
			return nil, fmt.Errorf("secrets file %s is not valid TOML: fix it or restore it from a backup", path)
		}
		if und := md.Undecoded(); len(und) > 0 {
			return nil, fmt.Errorf("secrets file %s: unknown key %s", path, und[0])
		}
	} else if !os.IsNotExist(err) {
		return nil, fmt.Errorf("read secrets file: %w", err)
	}
	if f.Users == nil {
		f.Users = map[string]secretsEntry{}
	}
	s := &Secrets{file: path, users: map[string]secretUser{}, existed: existed}
	missing := &MissingSecretsError{File: path, FileMissing: !existed}
	shared := inv.UsersSharingEnvVar()
	for _, user := range inv.Users() {
		e, known := f.Users[user]
		if env := getenv(EnvVar(user)); env != "" {
			if others := shared[EnvVar(user)]; len(others) > 1 {
				// Taken for all of them, the variable meant for one user
				// would roll out a new password for the others too and
				// lock their clients out.
				return nil, fmt.Errorf("%s is set, but it is the variable of users %s alike (their names differ only in case or in characters other than letters, digits and _): dcctl cannot tell whose password it is. Unset it and write each one's password into %s (mode 0600)",
					EnvVar(user), strings.Join(others, ", "), path)
			}
			if e.EnvBcrypt == "" || bcrypt.CompareHashAndPassword([]byte(e.EnvBcrypt), []byte(env)) != nil {
				h, err := bcrypt.GenerateFromPassword([]byte(env), bcryptCost)
				if err != nil {
					return nil, fmt.Errorf("hash password of user %s: %w", user, err)
				}
				e.EnvBcrypt = string(h)
				s.dirty = true
			}
			s.users[user] = secretUser{password: env, hash: e.EnvBcrypt, fromEnv: true}
			f.Users[user] = e
			continue
		}
		if e.Password == "" {
			// Only a user nobody has heard of may get a new password: one the
			// file knows (its password came from the environment) runs on
			// the servers with a password dcctl cannot know.
			if !generate || known {
				missing.Users = append(missing.Users, user)
				continue
			}
			p, err := randomPassword()
			if err != nil {
				return nil, err
			}
			h, err := bcrypt.GenerateFromPassword([]byte(p), generatedCost)
			if err != nil {
				return nil, fmt.Errorf("hash password of user %s: %w", user, err)
			}
			e.Password, e.Bcrypt, e.Checked = p, string(h), hashChecked(p, string(h))
			s.generated = append(s.generated, user)
			s.dirty = true
		}
		if e.Bcrypt == "" || e.Checked != hashChecked(e.Password, e.Bcrypt) {
			if e.Bcrypt == "" || bcrypt.CompareHashAndPassword([]byte(e.Bcrypt), []byte(e.Password)) != nil {
				h, err := bcrypt.GenerateFromPassword([]byte(e.Password), bcryptCost)
				if err != nil {
					return nil, fmt.Errorf("hash password of user %s: %w", user, err)
				}
				e.Bcrypt = string(h)
			}
			e.Checked = hashChecked(e.Password, e.Bcrypt)
			s.dirty = true
		}
		su := secretUser{password: e.Password, hash: e.Bcrypt}
		if e.Rotation != "" {
			if !e.Rotation.valid() || e.NextPassword == "" || e.NextBcrypt == "" {
				return nil, fmt.Errorf("secrets file %s: user %s: rotation %q without its new password and hash: restore %s.previous or finish the rotation by hand", path, user, e.Rotation, path)
			}
			su.next, su.nextHash, su.stage = e.NextPassword, e.NextBcrypt, e.Rotation
		}
		s.users[user] = su
		f.Users[user] = e
	}
	if len(missing.Users) > 0 {
		return nil, missing
	}
	if err := s.readRoute(&f, getenv, generate); err != nil {
		return nil, err
	}
	s.doc = f
	return s, nil
}

// readRoute reads the route password, or with generate makes one up when
// the file has none (provision then decides whether it may be used, as for
// users). Without generate a missing one is not an error here: only
// rendering a config needs it, and says so.
func (s *Secrets) readRoute(f *secretsFile, getenv func(string) string, generate bool) error {
	if env := getenv(RouteEnvVar); env != "" {
		e := secretsEntry{}
		if f.Route != nil {
			e = *f.Route
		}
		if e.EnvBcrypt == "" || bcrypt.CompareHashAndPassword([]byte(e.EnvBcrypt), []byte(env)) != nil {
			h, err := bcrypt.GenerateFromPassword([]byte(env), routeBcryptCost)
			if err != nil {
				return fmt.Errorf("hash route password: %w", err)
			}
			e.EnvBcrypt = string(h)
			s.dirty = true
		}
		f.Route = &e
		s.route = secretUser{password: env, hash: e.EnvBcrypt, fromEnv: true}
		return nil
	}
	if f.Route == nil || f.Route.Password == "" {
		if !generate {
			return nil
		}
		p, err := randomPassword()
		if err != nil {
			return err
		}
		f.Route = &secretsEntry{Password: p}
		s.routeGenerated = true
		s.dirty = true
	}
	e := f.Route
	if e.Bcrypt == "" || e.Checked != hashChecked(e.Password, e.Bcrypt) {
		if e.Bcrypt == "" || bcrypt.CompareHashAndPassword([]byte(e.Bcrypt), []byte(e.Password)) != nil {
			h, err := bcrypt.GenerateFromPassword([]byte(e.Password), routeBcryptCost)
			if err != nil {
				return fmt.Errorf("hash route password: %w", err)
			}
			e.Bcrypt = string(h)
		}
		e.Checked = hashChecked(e.Password, e.Bcrypt)
		s.dirty = true
	}
	s.route = secretUser{password: e.Password, hash: e.Bcrypt}
	return nil
}

// RouteUser is the user name routes authenticate with; the password is the
// secrets file's [route] password, or RouteEnvVar.
const RouteUser = "dcctl-route"

// RouteEnvVar overrides the route password, as DCCTL_PASSWORD_<USER> does
// a user's.
const RouteEnvVar = "DCCTL_ROUTE_PASSWORD"

// routeBcryptCost is low on purpose: the route password is 192 random
// bits (nothing to guess) and sits in plaintext in the same config, in the
// route URLs, while nats-server checks the hash on every route connection
// (several per peer with route pooling): at cost 11 a cluster forms
// seconds later on a loaded host.
const routeBcryptCost = bcrypt.MinCost

// Route returns the route password and its bcrypt hash; "" when the
// secrets file has none yet (only provision creates it).
func (s *Secrets) Route() (password, hash string) {
	if s == nil {
		return "", ""
	}
	return s.route.password, s.route.hash
}

// RouteGenerated reports whether PrepareSecrets made up the route password.
func (s *Secrets) RouteGenerated() bool { return s.routeGenerated }

// AdoptRoute replaces a route password PrepareSecrets made up with the one
// the servers already use (read back from their configs), and its hash, so
// that the next Save keeps it and rendered configs stay as they are.
func (s *Secrets) AdoptRoute(password, hash string) error {
	if hash == "" || bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) != nil {
		h, err := bcrypt.GenerateFromPassword([]byte(password), routeBcryptCost)
		if err != nil {
			return fmt.Errorf("hash route password: %w", err)
		}
		hash = string(h)
	}
	s.doc.Route = &secretsEntry{Password: password, Bcrypt: hash, Checked: hashChecked(password, hash)}
	s.route = secretUser{password: password, hash: hash}
	s.routeGenerated = false
	s.dirty = true
	s.version++
	return nil
}

// Version changes whenever something a rendered config holds changes
// (passwords, hashes, rotation stages, TLS files): a caller that keeps
// configs rendered earlier tells by it whether they are still current.
func (s *Secrets) Version() uint64 {
	if s == nil {
		return 0
	}
	return s.version
}

// Generated lists the users PrepareSecrets gave a new random password.
func (s *Secrets) Generated() []string { return s.generated }

// FileExists reports whether the secrets file existed when it was read.
func (s *Secrets) FileExists() bool { return s.existed }

// Save writes the secrets file (mode 0600, through a temporary file) when
// anything in it changed since it was read.
func (s *Secrets) Save() error {
	if !s.dirty {
		return nil
	}
	if err := writeSecrets(s.file, s.doc); err != nil {
		return err
	}
	s.dirty, s.existed, s.generated, s.routeGenerated = false, true, nil, false
	return nil
}

func mapValues(m map[string]secretUser) []secretUser {
	out := make([]secretUser, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// Password is the password the servers accept for user's own name now:
// during a rotation, the new one once the rollout switched the name over.
func (s *Secrets) Password(user string) string {
	u := s.users[user]
	if u.stage.switched() {
		return u.next
	}
	return u.password
}

// Hash is the bcrypt hash rendered for user's own name, stable across runs.
func (s *Secrets) Hash(user string) string {
	u := s.users[user]
	if u.stage.switched() {
		return u.nextHash
	}
	return u.hash
}

// Values lists every plaintext password, longest first, for redaction.
func (s *Secrets) Values() []string {
	var out []string
	for _, u := range append(mapValues(s.users), s.route) {
		for _, p := range []string{u.password, u.next} {
			if p != "" {
				out = append(out, p)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// Redact replaces every password in text with "<redacted>".
func (s *Secrets) Redact(text string) string {
	if s == nil {
		return text
	}
	for _, p := range s.Values() {
		text = strings.ReplaceAll(text, p, "<redacted>")
	}
	return text
}

// File is the secrets file's path.
func (s *Secrets) File() string { return s.file }

func randomPassword() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate password: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// writeSecrets writes the file with mode 0600 through a temporary file, so
// an interrupted write never leaves a truncated secrets file.
func writeSecrets(path string, f secretsFile) error {
	var buf bytes.Buffer
	buf.WriteString("# dcctl secrets: NATS user passwords and their bcrypt hashes.\n# Keep this file mode 0600 and out of version control.\n")
	if err := toml.NewEncoder(&buf).Encode(f); err != nil {
		return fmt.Errorf("encode secrets: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".secrets-*.tmp")
	if err != nil {
		return fmt.Errorf("write secrets file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("write secrets file: %w", err)
	}
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		return fmt.Errorf("write secrets file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write secrets file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write secrets file: %w", err)
	}
	return nil
}

// placeholderPassword is what PlaceholderSecrets gives every user: plainly
// not a password anyone could mistake for a real one.
const placeholderPassword = "PLACEHOLDER-not-the-real-password"

// PlaceholderSecrets gives every user the same placeholder password, for
// rendering configs to read when the real secrets are not at hand. Nothing
// is read or written.
func PlaceholderSecrets(inv *Inventory) (*Secrets, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(placeholderPassword), bcrypt.MinCost)
	if err != nil {
		return nil, fmt.Errorf("hash placeholder password: %w", err)
	}
	s := &Secrets{file: SecretsPath(inv.File), users: map[string]secretUser{}}
	for _, u := range inv.Users() {
		s.users[u] = secretUser{password: placeholderPassword, hash: string(h)}
	}
	s.route = secretUser{password: placeholderPassword, hash: string(h)}
	return s, nil
}
