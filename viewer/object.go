package viewer

import (
	"encoding/json"
	"strings"
)

// Field is one member of an Object.
type Field struct {
	Key   string
	Value any
}

// Object is a JSON object that keeps the order of its keys: the viewer's
// answers and the `datasets` feature types list their members in a fixed
// order that clients (and the Hub's own responses) show as is.
type Object []Field

// Obj builds an Object from alternating keys and values.
func Obj(kv ...any) Object {
	o := make(Object, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		o = append(o, Field{kv[i].(string), kv[i+1]})
	}
	return o
}

// Add appends a member.
func (o *Object) Add(k string, v any) { *o = append(*o, Field{k, v}) }

// MarshalJSON renders the members in order.
func (o Object) MarshalJSON() ([]byte, error) {
	var b strings.Builder
	b.WriteByte('{')
	for i, e := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(e.Key)
		v, err := json.Marshal(e.Value)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return []byte(b.String()), nil
}
