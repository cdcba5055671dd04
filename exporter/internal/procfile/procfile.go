// Package procfile reads small kernel text files (/proc/stat, meminfo)
// into pooled buffers, so a scrape does not allocate a fresh one per file.
package procfile

import (
	"fmt"
	"io"
	"os"
	"sync"
)

// maxSize bounds a file; /proc/stat on a 256-CPU host is about 100 KiB.
const maxSize = 4 << 20

// Reader reads files with reused buffers. The zero value is ready; it is
// safe for concurrent use.
type Reader struct {
	pool sync.Pool
}

// Read reads the file at path and calls parse with its contents, which are
// only valid during the call.
func (r *Reader) Read(path string, parse func([]byte) error) error {
	bp, _ := r.pool.Get().(*[]byte)
	if bp == nil {
		b := make([]byte, 0, 8<<10)
		bp = &b
	}
	defer r.pool.Put(bp)
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	// procfs files report size 0, so read until EOF, growing as needed.
	b := (*bp)[:0]
	for {
		if len(b) == cap(b) {
			if len(b) >= maxSize {
				return fmt.Errorf("%s: larger than %d bytes", path, maxSize)
			}
			b = append(b, 0)[:len(b)]
		}
		n, err := f.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	*bp = b
	return parse(b)
}
