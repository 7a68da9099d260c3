package jetstream

import "sort"

// msgHashes keeps a 64-bit hash of every message read, by stream sequence,
// so that any sub-range of a recorded range can be compared later: the
// oldest messages of a stream at its limits are gone by the time the
// runbook's post-check reads it, and only the range still there can be
// proven. 8 bytes a message (1 million messages: 8 MB); sequences are kept
// as runs of consecutive ones, so a gap (a deleted message) costs one run.
type msgHashes struct {
	runs []hashRun
	n    int
}

type hashRun struct {
	first uint64
	sums  []uint64
}

func (m *msgHashes) add(seq, sum uint64) {
	if k := len(m.runs); k > 0 {
		r := &m.runs[k-1]
		if r.first+uint64(len(r.sums)) == seq {
			r.sums = append(r.sums, sum)
			m.n++
			return
		}
	}
	m.runs = append(m.runs, hashRun{first: seq, sums: []uint64{sum}})
	m.n++
}

// get returns the hash of the message at seq, if one was read.
func (m *msgHashes) get(seq uint64) (uint64, bool) {
	i := sort.Search(len(m.runs), func(i int) bool { return m.runs[i].first > seq }) - 1
	if i < 0 {
		return 0, false
	}
	r := m.runs[i]
	if seq-r.first >= uint64(len(r.sums)) {
		return 0, false
	}
	return r.sums[seq-r.first], true
}

// each calls fn for every message in sequence order.
func (m *msgHashes) each(fn func(seq, sum uint64)) {
	for _, r := range m.runs {
		for i, s := range r.sums {
			fn(r.first+uint64(i), s)
		}
	}
}

func (m *msgHashes) count() int { return m.n }
