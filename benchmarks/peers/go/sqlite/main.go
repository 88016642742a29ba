// go-sqlite: the TechEmpower database tests (/db, /queries, /fortunes,
// /updates) on the standard library's net/http and database/sql with the
// mattn/go-sqlite3 driver (Debian golang-github-mattn-go-sqlite3-dev, cgo,
// the system libsqlite3), written the way the Go entries of TechEmpower's
// go-std write them. Usage: go-sqlite PORT DB. One OS thread runs Go code
// (GOMAXPROCS=1); the database is created and seeded (World 10,000 rows,
// Fortune 12 rows) when its tables are missing, with the same schema as
// examples/tfb, in WAL mode with synchronous=NORMAL like fastjson's default.
package main

import (
	"database/sql"
	"encoding/json"
	"html/template"
	"log"
	"math/rand"
	"net/http"
	"os"
	"runtime"
	"sort"
	"strconv"

	_ "github.com/mattn/go-sqlite3"
)

type world struct {
	ID           int32 `json:"id"`
	RandomNumber int32 `json:"randomNumber"`
}

type fortune struct {
	ID      int32
	Message string
}

var fortunesTmpl = template.Must(template.New("fortunes").Parse(
	"<!DOCTYPE html><html><head><title>Fortunes</title></head><body><table>" +
		"<tr><th>id</th><th>message</th></tr>" +
		"{{range .}}<tr><td>{{.ID}}</td><td>{{.Message}}</td></tr>{{end}}" +
		"</table></body></html>"))

func seed(db *sql.DB) {
	var n int
	if db.QueryRow("SELECT count(*) FROM sqlite_master WHERE name = 'World'").Scan(&n); n > 0 {
		return
	}
	stmts := []string{
		"CREATE TABLE World(id INTEGER PRIMARY KEY, randomNumber INTEGER NOT NULL)",
		"CREATE TABLE Fortune(id INTEGER PRIMARY KEY, message TEXT NOT NULL)",
		"INSERT INTO World(id, randomNumber) WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 10000) " +
			"SELECT x, abs(random()) % 10000 + 1 FROM n",
	}
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			log.Fatal(err)
		}
	}
	msgs := []string{
		"fortune: No such file or directory",
		"A computer scientist is someone who fixes things that aren't broken.",
		"After enough decimal places, nobody gives a damn.",
		"A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1",
		"A computer program does what you tell it to do, not what you want it to do.",
		"Emacs is a nice operating system, but I prefer UNIX. — Tom Christaensen",
		"Any program that runs right is obsolete.",
		"A list is only as strong as its weakest link. — Donald Knuth",
		"Feature: A bug with seniority.",
		"Computers make very fast, very accurate mistakes.",
		"<script>alert(\"This should not be displayed in a browser alert box.\");</script>",
		"フレームワークのベンチマーク",
	}
	for i, m := range msgs {
		if _, err := db.Exec("INSERT INTO Fortune(id, message) VALUES (?, ?)", i+1, m); err != nil {
			log.Fatal(err)
		}
	}
}

func queriesParam(r *http.Request) int {
	n, err := strconv.Atoi(r.URL.Query().Get("queries"))
	if err != nil || n < 1 {
		return 1
	}
	if n > 500 {
		return 500
	}
	return n
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Server", "go-sqlite")
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func main() {
	runtime.GOMAXPROCS(1)
	db, err := sql.Open("sqlite3", "file:"+os.Args[2]+"?_journal_mode=WAL&_synchronous=NORMAL&_busy_timeout=5000")
	if err != nil {
		log.Fatal(err)
	}
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(4)
	seed(db)
	worldStmt, err := db.Prepare("SELECT id, randomNumber FROM World WHERE id = ?")
	if err != nil {
		log.Fatal(err)
	}
	fortuneStmt, err := db.Prepare("SELECT id, message FROM Fortune")
	if err != nil {
		log.Fatal(err)
	}
	updateStmt, err := db.Prepare("UPDATE World SET randomNumber = ? WHERE id = ?")
	if err != nil {
		log.Fatal(err)
	}
	randomWorld := func(w *world) error {
		return worldStmt.QueryRow(rand.Int31n(10000)+1).Scan(&w.ID, &w.RandomNumber)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("/db", func(w http.ResponseWriter, r *http.Request) {
		var wd world
		if err := randomWorld(&wd); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		writeJSON(w, &wd)
	})
	mux.HandleFunc("/queries", func(w http.ResponseWriter, r *http.Request) {
		ws := make([]world, queriesParam(r))
		for i := range ws {
			if err := randomWorld(&ws[i]); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
		}
		writeJSON(w, ws)
	})
	mux.HandleFunc("/fortunes", func(w http.ResponseWriter, r *http.Request) {
		rows, err := fortuneStmt.Query()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fs := make([]fortune, 0, 16)
		for rows.Next() {
			var f fortune
			if err := rows.Scan(&f.ID, &f.Message); err != nil {
				rows.Close()
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			fs = append(fs, f)
		}
		rows.Close()
		fs = append(fs, fortune{ID: 0, Message: "Additional fortune added at request time."})
		sort.Slice(fs, func(i, j int) bool { return fs[i].Message < fs[j].Message })
		w.Header().Set("Server", "go-sqlite")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fortunesTmpl.Execute(w, fs)
	})
	mux.HandleFunc("/updates", func(w http.ResponseWriter, r *http.Request) {
		ws := make([]world, queriesParam(r))
		for i := range ws {
			if err := randomWorld(&ws[i]); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			ws[i].RandomNumber = rand.Int31n(10000) + 1
		}
		// One transaction for the batch of UPDATEs, as fastjson-tfb does.
		tx, err := db.Begin()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		st := tx.Stmt(updateStmt)
		for i := range ws {
			if _, err := st.Exec(ws[i].RandomNumber, ws[i].ID); err != nil {
				tx.Rollback()
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
		}
		if err := tx.Commit(); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		writeJSON(w, ws)
	})
	log.Fatal(http.ListenAndServe("127.0.0.1:"+os.Args[1], mux))
}
