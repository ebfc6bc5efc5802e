package authevent

import (
	"errors"
	"os"
	"strings"
	"testing"
)

func TestOpen(t *testing.T) {
	t.Parallel()
	c := testCrypter(t)
	ticketXML, err := os.ReadFile("testdata/messages/ticket.xml")
	if err != nil {
		t.Fatal(err)
	}
	badXML, err := os.ReadFile("testdata/messages/no-infotype.xml")
	if err != nil {
		t.Fatal(err)
	}
	const ts, nonce = "1413192605", "1320562132"
	seal := func(c *Crypter, token string, msg []byte) ([]byte, string) {
		body, sig, err := c.Seal(token, ts, nonce, msg)
		if err != nil {
			t.Fatal(err)
		}
		return body, sig
	}
	good, goodSig := seal(c, testToken, ticketXML)
	other, err := NewCrypter(testAESKey, "wx0000000000000000")
	if err != nil {
		t.Fatal(err)
	}
	forOther, forOtherSig := seal(other, testToken, ticketXML)
	// The envelope names our appid, the ciphertext another one.
	forOtherRenamed := []byte(strings.Replace(string(forOther), "wx0000000000000000", testAppID, 1))
	malformed, malformedSig := seal(c, testToken, badXML)
	// Signed and encrypted for us, but the message inside names another
	// component appid.
	renamedMsg, renamedMsgSig := seal(c, testToken, []byte(strings.Replace(string(ticketXML), testAppID, "wx0000000000000000", 1)))
	otherRoot, otherRootSig := seal(c, testToken, []byte(strings.ReplaceAll(string(ticketXML), "xml>", "msg>")))
	garbage := []byte("<xml><AppId>" + testAppID + "</AppId><Encrypt>not-base64!</Encrypt></xml>")

	for _, tc := range []struct {
		name        string
		token, key  string
		sig, ts     string
		body        []byte
		want        error
		wantMessage bool
	}{
		{"ok", testToken, testAESKey, goodSig, ts, good, nil, true},
		{"upper-case signature", testToken, testAESKey, strings.ToUpper(goodSig), ts, good, nil, true},
		{"no signature", testToken, testAESKey, "", ts, good, ErrSignature, false},
		{"wrong signature", testToken, testAESKey, strings.Repeat("0", 40), ts, good, ErrSignature, false},
		{"wrong token", "another-token", testAESKey, goodSig, ts, good, ErrSignature, false},
		{"replayed with another timestamp", testToken, testAESKey, goodSig, "1413192606", good, ErrSignature, false},
		{"garbage with a bad signature is a signature error", testToken, testAESKey, goodSig, ts, garbage, ErrSignature, false},
		{"garbage with its signature", testToken, testAESKey, Signature(testToken, ts, nonce, "not-base64!"), ts, garbage, ErrDecrypt, false},
		{"envelope for another appid", testToken, testAESKey, forOtherSig, ts, forOther, ErrAppID, false},
		{"ciphertext for another appid", testToken, testAESKey, forOtherSig, ts, forOtherRenamed, ErrAppID, false},
		{"message without InfoType", testToken, testAESKey, malformedSig, ts, malformed, ErrMalformed, false},
		{"message for another appid", testToken, testAESKey, renamedMsgSig, ts, renamedMsg, ErrAppID, false},
		{"message with another root", testToken, testAESKey, otherRootSig, ts, otherRoot, ErrMalformed, false},
		{"not xml", testToken, testAESKey, goodSig, ts, []byte("success"), ErrMalformed, false},
		{"no token configured", "", testAESKey, goodSig, ts, good, ErrKey, false},
		{"bad key", testToken, testAESKey[:40], goodSig, ts, good, ErrKey, false},
		{"other key", testToken, "A" + testAESKey[1:], goodSig, ts, good, ErrDecrypt, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m, err := Open(tc.token, tc.key, testAppID, tc.ts, nonce, tc.sig, tc.body)
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if m.InfoType != InfoVerifyTicket || m.ComponentVerifyTicket != "ticket@@@testdata-verify-ticket" || m.CreateTime != 1413192605 {
					t.Fatalf("Open = %s", fields(*m))
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Open: %v, want %v", err, tc.want)
			}
			if m != nil {
				t.Fatal("Open returned a message with its error")
			}
			for _, secret := range []string{testToken, testAESKey, "ticket@@@", goodSig} {
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("the error holds %q: %v", secret, err)
				}
			}
		})
	}
}

func BenchmarkOpen(b *testing.B) {
	c := testCrypter(b)
	msg, err := os.ReadFile("testdata/messages/authorized.xml")
	if err != nil {
		b.Fatal(err)
	}
	body, sig, err := c.Seal(testToken, "1", "2", msg)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Open(testToken, "1", "2", sig, body); err != nil {
			b.Fatal(err)
		}
	}
}
