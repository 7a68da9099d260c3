package remote

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// KeyFiles parses SSH private key files once for the many dials of a run.
// Parsing an RSA key checks it, which costs ~10–20 ms of CPU for a
// 3072-bit one: paid on every dial, that was 10–20 s of the operator's CPU
// in a 1000-host run (an ed25519 key costs microseconds). A file is parsed
// again when it is not the one last parsed (inode, size, modification or
// change time), as known_hosts is.
type KeyFiles struct {
	mu     sync.Mutex
	keys   map[string]parsedKey
	parses int // how often a file was parsed, for tests
}

type parsedKey struct {
	stamp  fileStamp
	signer ssh.Signer
}

// NewKeyFiles returns an empty cache; share it between the dials of a run
// (Config.Keys).
func NewKeyFiles() *KeyFiles { return &KeyFiles{keys: map[string]parsedKey{}} }

// load returns the signer of the key file at path. It holds the lock while
// it parses, so that parallel dials of a new file parse it once.
func (k *KeyFiles) load(path string) (ssh.Signer, error) {
	if k == nil {
		return loadKey(path)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	st, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			delete(k.keys, path)
		}
		return nil, fmt.Errorf("read SSH key: %w", err)
	}
	now := stampOf(st)
	if p, ok := k.keys[path]; ok && p.stamp == now {
		return p.signer, nil
	}
	signer, err := loadKey(path)
	k.parses++
	delete(k.keys, path)
	if err != nil {
		return nil, err
	}
	// A file modified within racyWindow is not kept: a rewrite of the same
	// size in the same clock tick would leave its stamp as it was.
	if time.Since(st.ModTime()) > racyWindow {
		k.keys[path] = parsedKey{stamp: now, signer: signer}
	}
	return signer, nil
}
