package provision

import (
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// Fuzz targets for what provision reads back from hosts besides the facts
// (FuzzParseFacts): systemctl show output, and the config file currently on
// a host, which dcctl diffs, redacts and classifies for reload or restart.

// FuzzParseUnitShow: any output parses without panicking, and a well-formed
// systemctl show answer round-trips.
func FuzzParseUnitShow(f *testing.F) {
	f.Add("loaded", "active", "running", "success", 1234, 0, "")
	f.Add("not-found", "inactive", "dead", "", 0, 3, "garbage\n=\nMainPID=x\n")
	f.Fuzz(func(t *testing.T, load, active, sub, result string, pid, restarts int, junk string) {
		_ = parseUnitShow("u", []byte(junk))
		for _, v := range []string{load, active, sub, result} {
			if strings.ContainsAny(v, "\r\n") {
				return
			}
		}
		out := fmt.Sprintf("LoadState=%s\nActiveState=%s\nSubState=%s\nResult=%s\nMainPID=%d\nNRestarts=%d\n", load, active, sub, result, pid, restarts)
		got := parseUnitShow("u", []byte(out))
		want := UnitState{Unit: "u", Load: load, Active: active, Sub: sub, Result: result, MainPID: pid, Restarts: restarts}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("parse(%q) = %+v, want %+v", out, got, want)
		}
		_ = got.String()
	})
}

var alnum = regexp.MustCompile(`^[A-Za-z0-9]+$`)

// FuzzRedactConfig: a leafnode URL's password and a user's hash never
// survive redaction, whatever text surrounds them (the old config on a host
// may hold passwords dcctl no longer knows).
func FuzzRedactConfig(f *testing.F) {
	f.Add("listen: 0.0.0.0:4222", "acc1", "s3cretPassw0rd", "10.77.1.11", "JDJhJDExJGhhc2g", "}")
	f.Fuzz(func(t *testing.T, before, user, pw, host, hash, after string) {
		if !alnum.MatchString(user) || !alnum.MatchString(pw) || !alnum.MatchString(host) || !alnum.MatchString(hash) {
			return
		}
		text := before + "\n  urls: [\"nats-leaf://" + user + ":" + pw + "@" + host + ":7422\"]\n" +
			"  users: [{user: " + user + ", password: \"" + hash + "\"}]\n" + after
		out := redactConfig(text)
		if strings.Contains(out, "://"+user+":"+pw+"@") {
			t.Fatalf("leafnode password survived: %q", out)
		}
		if strings.Contains(out, `password: "`+hash+`"`) {
			t.Fatalf("hash survived: %q", out)
		}
		_ = unifiedDiff("/etc/nats/nats-server.conf", []byte(before), []byte(out))
	})
}

// FuzzConfigChange: any pair of configs is classified without panicking;
// a config compared with itself changes nothing, unless it cannot be parsed
// (then a restart is the safe answer).
func FuzzConfigChange(f *testing.F) {
	f.Add([]byte("port: 4222\njetstream { domain: hub }\n"), []byte("port: 4223\naccounts { A { users: [{user: a}] } }\n"))
	f.Add([]byte("include ./x.conf\n"), []byte("{{{"))
	f.Fuzz(func(t *testing.T, old, new []byte) {
		_, _ = configChange(old, new)
		if keys, _ := configChange(old, old); len(keys) != 0 && keys[0] != "(unparseable current config)" {
			t.Fatalf("a config compared with itself changed %v", keys)
		}
	})
}
