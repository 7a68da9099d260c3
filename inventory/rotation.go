package inventory

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// RotationStage is how far a password rotation got. nats-server accepts one
// password per user name (a second entry with the same name is refused by
// its config parser), and a reload closes every connection whose password
// no longer matches. So a rotation cannot let one name log in with both the
// old and the new password; it renders a companion user (the name plus
// CompanionSuffix, same account, the new password) and moves through these
// stages, each rolled out to every server before the next:
//
//	accept-both     servers: U=old, U-next=new; leaf remotes log in as U (old)
//	leaves-on-next  leaf remotes log in as U-next (new)
//	switched        servers: U=new, U-next=new (clients still on the old password are cut off)
//	leaves-back     leaf remotes log in as U (new)
//
// and then the rotation is finished: U=new, no companion.
type RotationStage string

const (
	StageAcceptBoth   RotationStage = "accept-both"
	StageLeavesOnNext RotationStage = "leaves-on-next"
	StageSwitched     RotationStage = "switched"
	StageLeavesBack   RotationStage = "leaves-back"
)

// CompanionSuffix names the companion user of a rotation: acc1 -> acc1-next.
const CompanionSuffix = "-next"

var stageOrder = []RotationStage{StageAcceptBoth, StageLeavesOnNext, StageSwitched, StageLeavesBack}

func (r RotationStage) index() int {
	for i, s := range stageOrder {
		if s == r {
			return i
		}
	}
	return -1
}

func (r RotationStage) valid() bool { return r.index() >= 0 }

// switched: the user's own name now takes the new password.
func (r RotationStage) switched() bool { return r.index() >= StageSwitched.index() }

// Before reports whether r comes before o ("" is before every stage).
func (r RotationStage) Before(o RotationStage) bool { return r.index() < o.index() }

// Rotation returns user's rotation stage, "" when none is under way.
func (s *Secrets) Rotation(user string) RotationStage { return s.users[user].stage }

// Companion returns the companion user rendered during user's rotation and
// its bcrypt hash; ok is false when no rotation is under way.
func (s *Secrets) Companion(user string) (name, hash string, ok bool) {
	u := s.users[user]
	if u.stage == "" {
		return "", "", false
	}
	return user + CompanionSuffix, u.nextHash, true
}

// LeafLogin is the user name and password a leafnode remote of user's
// account logs in with: the companion while the rotation has the leaf
// links on it, user itself otherwise.
func (s *Secrets) LeafLogin(user string) (name, password string) {
	u := s.users[user]
	if u.stage == StageLeavesOnNext || u.stage == StageSwitched {
		return user + CompanionSuffix, u.next
	}
	return user, s.Password(user)
}

// BeginRotation gives each user a new random password, rendered for the
// companion user only (stage accept-both), in memory: Save writes it. A user
// already rotating keeps its new password. A password that comes from the
// environment cannot be rotated here.
func (s *Secrets) BeginRotation(users []string) error {
	for _, user := range users {
		u, ok := s.users[user]
		switch {
		case !ok:
			return fmt.Errorf("rotate the password of %s: no such user in the inventory", user)
		case u.fromEnv:
			return fmt.Errorf("rotate the password of %s: it comes from %s; change it there and run provision (dcctl cannot keep the old one accepted meanwhile)", user, EnvVar(user))
		case u.stage != "":
			continue
		}
		p, err := randomPassword()
		if err != nil {
			return err
		}
		h, err := bcrypt.GenerateFromPassword([]byte(p), generatedCost)
		if err != nil {
			return fmt.Errorf("hash password of user %s: %w", user, err)
		}
		u.next, u.nextHash, u.stage = p, string(h), StageAcceptBoth
		s.setUser(user, u)
	}
	return nil
}

// SetRotation moves each user's rotation to stage.
func (s *Secrets) SetRotation(users []string, stage RotationStage) error {
	for _, user := range users {
		u := s.users[user]
		if u.stage == "" {
			return fmt.Errorf("password of %s: no rotation under way", user)
		}
		u.stage = stage
		s.setUser(user, u)
	}
	return nil
}

// FinishRotation makes each user's new password its only one.
func (s *Secrets) FinishRotation(users []string) {
	for _, user := range users {
		u := s.users[user]
		if u.stage == "" {
			continue
		}
		u.password, u.hash = u.next, u.nextHash
		u.next, u.nextHash, u.stage = "", "", ""
		s.setUser(user, u)
	}
}

// setUser records u in memory and in what Save writes.
func (s *Secrets) setUser(user string, u secretUser) {
	s.users[user] = u
	e := s.doc.Users[user]
	e.Password, e.Bcrypt, e.Checked = u.password, u.hash, hashChecked(u.password, u.hash)
	e.NextPassword, e.NextBcrypt, e.Rotation = u.next, u.nextHash, u.stage
	if s.doc.Users == nil {
		s.doc.Users = map[string]secretsEntry{}
	}
	s.doc.Users[user] = e
	s.dirty = true
	s.version++
}

// PreviousPath is where a rotation keeps the secrets file as it was before
// it began, until it is finished.
func (s *Secrets) PreviousPath() string { return s.file + ".previous" }

// KeepPrevious copies the secrets file to PreviousPath (mode 0600), unless
// a copy is already there (a rotation resumed).
func (s *Secrets) KeepPrevious() error {
	prev := s.PreviousPath()
	if _, err := os.Stat(prev); err == nil {
		return nil
	}
	data, err := os.ReadFile(s.file)
	if err != nil {
		return fmt.Errorf("keep the secrets file before the rotation: %w", err)
	}
	tmp := prev + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("keep the secrets file before the rotation: %w", err)
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return fmt.Errorf("keep the secrets file before the rotation: %w", err)
	}
	if err := os.Rename(tmp, prev); err != nil {
		return fmt.Errorf("keep the secrets file before the rotation: %w", err)
	}
	return nil
}

// DropPrevious removes PreviousPath once no rotation is under way.
func (s *Secrets) DropPrevious() error {
	if rotating := s.Rotating(); len(rotating) > 0 {
		return fmt.Errorf("secrets: rotation of %s still under way", strings.Join(rotating, ", "))
	}
	if err := os.Remove(s.PreviousPath()); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("remove %s: %w", s.PreviousPath(), err)
	}
	return nil
}

// FromEnv reports whether user's password comes from DCCTL_PASSWORD_<USER>.
func (s *Secrets) FromEnv(user string) bool { return s.users[user].fromEnv }

// Rotating lists the users whose password rotation is under way, sorted.
func (s *Secrets) Rotating() []string {
	var out []string
	for name, u := range s.users {
		if u.stage != "" {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}
