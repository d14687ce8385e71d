package restsim

import (
	"errors"
)

// What the REST API reads and writes one record at a time.

var (
	errNoStore  = errors.New("no such store")
	errNotFound = errors.New("no such record")
)

// get is one record of the user.
func (m *Model) get(user string, k Kind, store, id string) (Record, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	u := m.user(user, false)
	if k.storeScoped() && (u == nil || !u.hasStore(store)) {
		return Record{}, errNoStore
	}
	if u == nil {
		return Record{}, errNotFound
	}
	c := u.collection(k, store, false)
	if c == nil {
		return Record{}, errNotFound
	}
	r := c.find(id)
	if r == nil {
		return Record{}, errNotFound
	}
	return r.public(k), nil
}

// write stores records written through the API (each in the API's shape, with its id), into a
// store the user has.
func (m *Model) write(user string, k Kind, store string, items []object) ([]Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u := m.user(user, false)
	if u == nil || !u.hasStore(store) {
		return nil, errNoStore
	}
	out := make([]Record, 0, len(items))
	for _, it := range items {
		for _, name := range managed(k) {
			it.del(name)
		}
		out = append(out, m.upsert(u, k, store, it, nil).public(k))
	}
	return out, nil
}

// patch sets some members of a record.
func (m *Model) patch(user string, k Kind, store, id string, fields object) (Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u := m.user(user, false)
	if u == nil || !u.hasStore(store) {
		return Record{}, errNoStore
	}
	c := u.collection(k, store, false)
	if c == nil || c.find(id) == nil {
		return Record{}, errNotFound
	}
	r := c.find(id)
	rest := r.rest.clone()
	for _, f := range fields {
		rest.set(f.name, f.value)
	}
	return m.upsert(u, k, store, rest, r.webhook).public(k), nil
}

// remove deletes records of a store; it reports how many there were.
func (m *Model) remove(user string, k Kind, store string, ids ...string) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u := m.user(user, false)
	if u == nil || !u.hasStore(store) {
		return 0, errNoStore
	}
	c := u.collection(k, store, false)
	if c == nil {
		return 0, nil
	}
	n := 0
	for _, id := range ids {
		if c.remove(id) {
			n++
		}
	}
	return n, nil
}

// putBulk keeps a bulk task of the user; bulk gets it back.
func (m *Model) putBulk(user, id string, task object) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.user(user, true).bulks[id] = task
}

func (m *Model) bulk(user, id string) (object, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	u := m.user(user, false)
	if u == nil {
		return nil, false
	}
	t, ok := u.bulks[id]
	return t, ok
}
