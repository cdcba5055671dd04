package services

import (
	"os"
	"testing"
)

func TestParseStatsCSV(t *testing.T) {
	body, err := os.ReadFile("testdata/haproxy-stats.csv")
	if err != nil {
		t.Fatal(err)
	}
	rows, err := parseStatsCSV(body)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || rows[1]["svname"] != "sel2" || rows[1]["status"] != "DOWN" || rows[1]["chkfail"] != "3" || rows[0]["chkdown"] != "0" {
		t.Fatalf("rows = %v", rows)
	}
	for _, bad := range []string{"", "pxname\n", "<html>not csv</html>", "# a,b\n1,2\n", "# pxname,svname\n\"x,y\n"} {
		if _, err := parseStatsCSV([]byte(bad)); err == nil {
			t.Errorf("parseStatsCSV(%q) accepted", bad)
		}
	}
}
