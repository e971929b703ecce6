package viewer

import (
	"encoding/json"
	"testing"
)

func TestObjectKeepsOrder(t *testing.T) {
	var grown Object
	grown.Add("z", 1)
	grown.Add("a", nil)
	tests := []struct {
		in   Object
		want string
	}{
		{Object{}, `{}`},
		{Obj("dtype", "string", "_type", "Value"), `{"dtype":"string","_type":"Value"}`},
		{Obj("b", Obj("y", []int{1}, "x", true), "a", "é\"<"), `{"b":{"y":[1],"x":true},"a":"é\"\u003c"}`},
		{grown, `{"z":1,"a":null}`},
	}
	for _, tc := range tests {
		got, err := json.Marshal(tc.in)
		if err != nil || string(got) != tc.want {
			t.Errorf("got %s, %v; want %s", got, err, tc.want)
		}
	}
	if _, err := json.Marshal(Obj("bad", func() {})); err == nil {
		t.Error("an unencodable value gave no error")
	}
}
