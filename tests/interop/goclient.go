// Go crypto/tls client for the edgetls interop tests (standard library only, 127.0.0.1 only).
// It verifies the chain against -ca and the hostname -name, restricts key exchange to -curves,
// checks the ConnectionState (TLS 1.3, or with -tls12 exactly TLS 1.2 (MaxVersion
// tls.VersionTLS12, suites limited by -ciphers); the suite -want-cipher when given) and then:
//
//	-mode request   N HTTP/1.1 keep-alive GETs (net/http over this one connection), each 200
//	-mode echo      -size bytes to an echo peer while reading them back concurrently, SHA-256
//	                compared; then CloseWrite (close_notify) and the peer's EOF is awaited
//
// -resume: a second connection offers the first one's session (a ClientSessionCache) and serves
// the requests too; the line printed starts "resumed=true" or "resumed=false" (DidResume).
//
// Prints one summary line; exits 1 with a reason on any failure.
package main

import (
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

var (
	addr       = flag.String("addr", "127.0.0.1:443", "server address")
	caFile     = flag.String("ca", "", "CA certificate (PEM)")
	name       = flag.String("name", "localhost", "server name: SNI and verified hostname")
	curves     = flag.String("curves", "x25519,p256", "key-exchange groups in order")
	wantCipher = flag.String("want-cipher", "", "fail unless this TLS 1.3 suite is negotiated")
	mode       = flag.String("mode", "request", "request | echo")
	count      = flag.Int("n", 3, "requests (request mode)")
	size       = flag.Int64("size", 64<<20, "bytes each way (echo mode)")
	timeout    = flag.Duration("timeout", 60*time.Second, "overall deadline")
	tls12      = flag.Bool("tls12", false, "TLS 1.2 only (MinVersion = MaxVersion = TLS 1.2)")
	ciphers    = flag.String("ciphers", "", "TLS 1.2 suites to offer, IANA names, comma-separated")
	resume     = flag.Bool("resume", false, "reconnect with the session and require resumption")
	cache      = tls.NewLRUClientSessionCache(4)
	certFile   = flag.String("cert", "", "client certificate chain (PEM) for mTLS, with -key")
	keyFile    = flag.String("key", "", "client private key (PEM)")
)

func die(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "goclient: "+format+"\n", args...)
	os.Exit(1)
}

func config() *tls.Config {
	pem, err := os.ReadFile(*caFile)
	if err != nil {
		die("%v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		die("no certificate in %s", *caFile)
	}
	var prefs []tls.CurveID
	for _, c := range strings.Split(*curves, ",") {
		switch c {
		case "x25519":
			prefs = append(prefs, tls.X25519)
		case "p256":
			prefs = append(prefs, tls.CurveP256)
		default:
			die("unknown curve %q", c)
		}
	}
	cfg := &tls.Config{RootCAs: pool, ServerName: *name, MinVersion: tls.VersionTLS13,
		CurvePreferences: prefs, NextProtos: []string{"http/1.1"}, ClientSessionCache: cache}
	if *tls12 {
		cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
	}
	if *ciphers != "" {
		for _, n := range strings.Split(*ciphers, ",") {
			id, ok := suiteID(n)
			if !ok {
				die("unknown TLS 1.2 suite %q", n)
			}
			cfg.CipherSuites = append(cfg.CipherSuites, id)
		}
	}
	if *certFile != "" {
		pair, err := tls.LoadX509KeyPair(*certFile, *keyFile)
		if err != nil {
			die("client certificate: %v", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg
}

func suiteID(n string) (uint16, bool) {
	for _, s := range tls.CipherSuites() {
		if s.Name == n {
			return s.ID, true
		}
	}
	return 0, false
}

func wantVersion() uint16 {
	if *tls12 {
		return tls.VersionTLS12
	}
	return tls.VersionTLS13
}

func versionName(v uint16) string {
	if v == tls.VersionTLS12 {
		return "TLS1.2"
	}
	return "TLS1.3"
}

func dial() *tls.Conn {
	d := &net.Dialer{Timeout: *timeout}
	c, err := tls.DialWithDialer(d, "tcp", *addr, config())
	if err != nil {
		die("handshake: %v", err)
	}
	c.SetDeadline(time.Now().Add(*timeout))
	st := c.ConnectionState()
	if st.Version != wantVersion() || !st.HandshakeComplete {
		die("version 0x%04x, complete %v", st.Version, st.HandshakeComplete)
	}
	if len(st.VerifiedChains) == 0 {
		die("no verified chain")
	}
	cs := tls.CipherSuiteName(st.CipherSuite)
	if *wantCipher != "" && cs != *wantCipher {
		die("negotiated %s, want %s", cs, *wantCipher)
	}
	return c
}

func describe(c *tls.Conn) string {
	st := c.ConnectionState()
	return fmt.Sprintf("%s %s alpn=%q cn=%s", versionName(st.Version), tls.CipherSuiteName(st.CipherSuite),
		st.NegotiatedProtocol, st.PeerCertificates[0].Subject.CommonName)
}

func requests(c *tls.Conn) {
	r := bufio.NewReader(c)
	for i := 0; i < *count; i++ {
		req, _ := http.NewRequest("GET", fmt.Sprintf("https://%s/go/%d", *name, i), nil)
		if err := req.Write(c); err != nil {
			die("request %d: %v", i, err)
		}
		resp, err := http.ReadResponse(r, req)
		if err != nil {
			die("response %d: %v", i, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || len(body) == 0 {
			die("response %d: status %d, %d bytes, %v", i, resp.StatusCode, len(body), err)
		}
	}
	fmt.Printf("request: %d responses on one connection, %s\n", *count, describe(c))
}

func echo(c *tls.Conn) {
	block := make([]byte, 1<<20)
	if _, err := rand.Read(block); err != nil {
		die("%v", err)
	}
	start := time.Now()
	sent := make(chan []byte, 1)
	go func() {
		h := sha256.New()
		var n int64
		for n < *size {
			chunk := block[:min64(int64(len(block)), *size-n)]
			chunk[0] = byte(n >> 20) // make every block different
			if _, err := c.Write(chunk); err != nil {
				die("write after %d bytes: %v", n, err)
			}
			h.Write(chunk)
			n += int64(len(chunk))
		}
		sent <- h.Sum(nil)
	}()
	h := sha256.New()
	got, err := io.CopyN(h, c, *size)
	if err != nil {
		die("read after %d of %d bytes: %v", got, *size, err)
	}
	want := <-sent
	if string(want) != string(h.Sum(nil)) {
		die("sha256 mismatch after %d bytes", got)
	}
	secs := time.Since(start).Seconds()
	// Half-close: our close_notify must travel to the backend and its EOF come back as the
	// server's close_notify (a clean io.EOF, not a reset or a hang).
	if err := c.CloseWrite(); err != nil {
		die("CloseWrite: %v", err)
	}
	var one [1]byte
	if n, err := c.Read(one[:]); n != 0 || !errors.Is(err, io.EOF) {
		die("after CloseWrite: %d bytes, %v (want EOF)", n, err)
	}
	fmt.Printf("echo: %d bytes each way, sha256 match, %.2f s (%.0f MB/s each way), half-close ok, %s\n",
		*size, secs, float64(*size)/secs/1e6, describe(c))
}

func min64(a, b int64) int64 {
	if a < b {
		return a
	}
	return b
}

func main() {
	flag.Parse()
	c := dial()
	defer c.Close()
	if *resume {
		if *mode != "request" {
			die("-resume works with -mode request")
		}
		requests(c)
		if c.ConnectionState().DidResume {
			die("the first connection resumed")
		}
		c.Close()
		// TLS 1.3 tickets arrive after the handshake: requests() read past them already
		c = dial()
		fmt.Printf("resumed=%v ", c.ConnectionState().DidResume)
	}
	switch *mode {
	case "request":
		requests(c)
	case "echo":
		echo(c)
	default:
		die("unknown mode %q", *mode)
	}
}
