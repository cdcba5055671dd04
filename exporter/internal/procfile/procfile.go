// Package procfile reads small kernel text files (/proc/stat, meminfo,
// net/dev) again and again, one scrape at a time, with a reused buffer.
package procfile

import (
	"fmt"
	"io"
	"os"
	"sync"
)

// maxSize bounds a file; /proc/stat on a 256-CPU host is about 100 KiB.
const maxSize = 4 << 20

// File reads one file through a descriptor kept open between reads: a proc
// file generates its contents afresh on a read from offset 0, so a scrape
// costs two pread calls instead of open, fstat, read, read and close. A
// failed read closes the descriptor and the next read opens the file
// again. File is safe for concurrent use; reads are serialised, so a file
// read in several chunks is never interleaved with another read.
type File struct {
	path string

	mu  sync.Mutex
	f   *os.File
	buf []byte
}

// NewFile returns a File for path; the file is opened on the first Read.
func NewFile(path string) *File { return &File{path: path} }

// Path returns the file's path.
func (f *File) Path() string { return f.path }

// Read reads the whole file and calls parse with its contents, which are
// only valid during the call.
func (f *File) Read(parse func([]byte) error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.f == nil {
		fd, err := os.Open(f.path)
		if err != nil {
			return err
		}
		f.f = fd
		if f.buf == nil {
			f.buf = make([]byte, 0, 8<<10)
		}
	}
	// procfs files report size 0, so read until EOF, growing as needed.
	b := f.buf[:0]
	for {
		if len(b) == cap(b) {
			if len(b) >= maxSize {
				f.reset()
				return fmt.Errorf("%s: larger than %d bytes", f.path, maxSize)
			}
			b = append(b, 0)[:len(b)]
		}
		n, err := f.f.ReadAt(b[len(b):cap(b)], int64(len(b)))
		b = b[:len(b)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			f.reset()
			return fmt.Errorf("%s: %w", f.path, err)
		}
	}
	f.buf = b
	return parse(b)
}

// reset drops the descriptor so that the next Read opens the file again
// (it may have been replaced, or the error may pass).
func (f *File) reset() {
	_ = f.f.Close()
	f.f = nil
}
