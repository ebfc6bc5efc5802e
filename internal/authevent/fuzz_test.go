package authevent

import (
	"bytes"
	"crypto/cipher"
	"encoding/base64"
	"errors"
	"testing"
)

// FuzzEnvelope feeds arbitrary bodies and query values to Open. It must
// never panic, and it may accept only what verifies under the test token
// and decrypts to the test appid.
func FuzzEnvelope(f *testing.F) {
	c := testCrypter(f)
	body, sig, err := c.Seal(testToken, "1413192605", "1320562132",
		[]byte("<xml><AppId>wx0c1d2e3f4a5b6c70</AppId><CreateTime>1</CreateTime><InfoType>component_verify_ticket</InfoType><ComponentVerifyTicket>t@@@x</ComponentVerifyTicket></xml>"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(body, "1413192605", "1320562132", sig)
	f.Add([]byte("<xml><AppId>a</AppId><Encrypt>e</Encrypt></xml>"), "", "", "")
	f.Fuzz(func(t *testing.T, body []byte, ts, nonce, sig string) {
		appID, encrypt, perr := ParseEnvelope(body)
		m, err := c.Open(testToken, ts, nonce, sig, body)
		if err == nil {
			if m == nil {
				t.Fatal("Open returned neither a message nor an error")
			}
			if perr != nil || !Verify(testToken, ts, nonce, encrypt, sig) {
				t.Fatalf("Open accepted a push that does not verify: %q", body)
			}
			if appID != "" && appID != testAppID {
				t.Fatalf("Open accepted an envelope for %q", appID)
			}
			if _, err := c.Decrypt(encrypt); err != nil {
				t.Fatalf("Open accepted what does not decrypt: %v", err)
			}
			return
		}
		if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrSignature) && !errors.Is(err, ErrDecrypt) && !errors.Is(err, ErrAppID) {
			t.Fatalf("Open: untyped error %v", err)
		}
		if perr == nil && !Verify(testToken, ts, nonce, encrypt, sig) && !errors.Is(err, ErrSignature) {
			t.Fatalf("an unsigned push failed with %v, not ErrSignature", err)
		}
	})
}

// FuzzDecrypt feeds arbitrary ciphertexts to Decrypt and arbitrary
// messages through Encrypt. Decrypt must never panic, may accept only a
// plaintext that ends in the test appid, and must undo Encrypt.
func FuzzDecrypt(f *testing.F) {
	c := testCrypter(f)
	enc, err := c.Encrypt([]byte("<xml/>"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(enc, []byte("<xml/>"))
	f.Add("", []byte{})
	f.Add("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", []byte("\x00\xff"))
	f.Fuzz(func(t *testing.T, encrypt string, msg []byte) {
		got, err := c.Decrypt(encrypt)
		if err == nil {
			// Check independently: the CBC plaintext must end in the appid
			// followed by valid padding.
			raw, derr := base64.StdEncoding.DecodeString(encrypt)
			if derr != nil {
				t.Fatalf("accepted what is not base64: %q", encrypt)
			}
			plain := make([]byte, len(raw))
			cipher.NewCBCDecrypter(c.block, c.iv).CryptBlocks(plain, raw)
			pad := int(plain[len(plain)-1])
			content := plain[:len(plain)-pad]
			if !bytes.HasSuffix(content, []byte(testAppID)) || !bytes.Equal(content[20:len(content)-len(testAppID)], got) {
				t.Fatalf("accepted a plaintext that is not msg+appid: %q", plain)
			}
		} else if !errors.Is(err, ErrDecrypt) && !errors.Is(err, ErrAppID) {
			t.Fatalf("Decrypt: untyped error %v", err)
		}
		enc, err := c.Encrypt(msg)
		if err != nil {
			t.Fatal(err)
		}
		back, err := c.Decrypt(enc)
		if err != nil || !bytes.Equal(back, msg) {
			t.Fatalf("Decrypt(Encrypt(%q)) = %q, %v", msg, back, err)
		}
	})
}
