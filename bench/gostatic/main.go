// Command gostatic serves the files of a folder from memory with nothing but
// Go's net/http: no routing, no middleware, one Content-Type and
// Content-Length each. bench/api-latency.sh measures it beside Haven and
// nginx to tell the cost of the standard library's HTTP server (which Haven
// is built on) from the cost of Haven's own work.
//
//	go run ./bench/gostatic -addr 127.0.0.1:8081 -root static/
package main

import (
	"flag"
	"log"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8081", "address to listen on")
	root := flag.String("root", ".", "folder whose files are served at /NAME")
	flag.Parse()
	entries, err := os.ReadDir(*root)
	if err != nil {
		log.Fatal(err)
	}
	type file struct {
		body        []byte
		length, typ []string
	}
	files := map[string]file{}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(*root, e.Name()))
		if err != nil {
			log.Fatal(err)
		}
		typ := mime.TypeByExtension(filepath.Ext(e.Name()))
		if typ == "" {
			typ = "application/octet-stream"
		}
		files["/"+e.Name()] = file{b, []string{strconv.Itoa(len(b))}, []string{typ}}
	}
	log.Fatal(http.ListenAndServe(*addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h["Content-Type"] = f.typ
		h["Content-Length"] = f.length
		w.Write(f.body)
	})))
}
