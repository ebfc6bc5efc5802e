package authevent

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
)

// vectors are published test vectors, each citing where it is published:
// testdata/vectors.json.
type vectors struct {
	WeComMessage struct {
		Source, Token, AppID, Timestamp, Nonce, Body string
		EncodingAESKey                               string            `json:"encoding_aes_key"`
		MsgSignature                                 string            `json:"msg_signature"`
		PlainFields                                  map[string]string `json:"plain_fields"`
	} `json:"wecom_message"`
	WxJavaEncrypt struct {
		Source, Token, AppID, Random string
		EncodingAESKey               string `json:"encoding_aes_key"`
		Cases                        []struct{ Plain, Encrypt string }
	} `json:"wxjava_encrypt"`
	WeComVerifyURL struct {
		Source, Token, AppID, Timestamp, Nonce, Encrypt string
		EncodingAESKey                                  string `json:"encoding_aes_key"`
		MsgSignature                                    string `json:"msg_signature"`
	} `json:"wecom_verify_url"`
}

func loadVectors(t testing.TB) vectors {
	t.Helper()
	b, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v vectors
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// The WeCom message vector is WeCom's official WXBizMsgCrypt sample, as
// EasyWeChat's test asserts it (w7corp/easywechat,
// tests/Kernel/Traits/DecryptXmlMessageTest.php): the signature verifies,
// the envelope parses, and the plaintext holds the published fields.
func TestPublishedWeComMessage(t *testing.T) {
	t.Parallel()
	v := loadVectors(t).WeComMessage
	appID, encrypt, err := ParseEnvelope([]byte(v.Body))
	if err != nil {
		t.Fatal(err)
	}
	if appID != v.AppID {
		t.Fatalf("envelope appid %q, want %q", appID, v.AppID)
	}
	if got := Signature(v.Token, v.Timestamp, v.Nonce, encrypt); got != v.MsgSignature {
		t.Fatalf("Signature = %s, want the published %s", got, v.MsgSignature)
	}
	if !Verify(v.Token, v.Timestamp, v.Nonce, encrypt, v.MsgSignature) {
		t.Fatal("the published signature does not verify")
	}
	if !Verify(v.Token, v.Timestamp, v.Nonce, encrypt, strings.ToUpper(v.MsgSignature)) {
		t.Fatal("upper-case hex does not verify")
	}
	c, err := NewCrypter(v.EncodingAESKey, v.AppID)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := c.Decrypt(encrypt)
	if err != nil {
		t.Fatal(err)
	}
	fields := map[string]string{}
	d := xml.NewDecoder(bytes.NewReader(plain))
	var name string
	for {
		tok, err := d.Token()
		if err != nil {
			break
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			name = tk.Name.Local
		case xml.CharData:
			if s := strings.TrimSpace(string(tk)); s != "" && name != "" {
				fields[name] = s
			}
		case xml.EndElement:
			name = ""
		}
	}
	for k, want := range v.PlainFields {
		if fields[k] != want {
			t.Errorf("decrypted %s = %q, want %q (plaintext %q)", k, fields[k], want, plain)
		}
	}
	// The same push through Open: the signature, envelope and appid
	// check, then the parser, which refuses it for having no InfoType.
	_, err = Open(v.Token, v.EncodingAESKey, v.AppID, v.Timestamp, v.Nonce, v.MsgSignature, []byte(v.Body))
	if !errors.Is(err, ErrMalformed) {
		t.Fatalf("Open of a WeCom text message: %v, want ErrMalformed (no InfoType)", err)
	}
}

// The URL check vector of WeCom's official sample: its signature and its
// echostr decrypt for the published corp id.
func TestPublishedWeComVerifyURL(t *testing.T) {
	t.Parallel()
	v := loadVectors(t).WeComVerifyURL
	if !Verify(v.Token, v.Timestamp, v.Nonce, v.Encrypt, v.MsgSignature) {
		t.Fatalf("published signature %s does not verify", v.MsgSignature)
	}
	c, err := NewCrypter(v.EncodingAESKey, v.AppID)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := c.Decrypt(v.Encrypt)
	if err != nil {
		t.Fatal(err)
	}
	if len(plain) == 0 || strings.Trim(string(plain), "0123456789") != "" {
		t.Fatalf("echostr plaintext %q is not the published decimal number", plain)
	}
	other, _ := NewCrypter(v.EncodingAESKey, "wx0000000000000000")
	if _, err := other.Decrypt(v.Encrypt); !errors.Is(err, ErrAppID) {
		t.Fatalf("decrypt for another appid: %v, want ErrAppID", err)
	}
}

// WxJava's test fixes the random prefix, so the ciphertext of the
// official sample parameters is exact (xz-wtx/WxJava,
// weixin-java-common/src/test/java/me/chanjar/weixin/common/util/crypto/WxCryptUtilTest.java).
func TestPublishedWxJavaEncrypt(t *testing.T) {
	t.Parallel()
	v := loadVectors(t).WxJavaEncrypt
	c, err := NewCrypter(v.EncodingAESKey, v.AppID)
	if err != nil {
		t.Fatal(err)
	}
	for i, tc := range v.Cases {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			if got := c.seal([]byte(v.Random), []byte(tc.Plain)); got != tc.Encrypt {
				t.Fatalf("seal = %s\nwant the published %s", got, tc.Encrypt)
			}
			plain, err := c.Decrypt(tc.Encrypt)
			if err != nil {
				t.Fatal(err)
			}
			if string(plain) != tc.Plain {
				t.Fatalf("Decrypt = %q, want %q", plain, tc.Plain)
			}
		})
	}
}

const (
	testToken  = "wxcloudenv-test-token"
	testAESKey = "Zm9vYmFyYmF6cXV4MDEyMzQ1Njc4OWFiY2RlZmdoaWo" // 43 characters
	testAppID  = "wx0c1d2e3f4a5b6c70"
)

func testCrypter(t testing.TB) *Crypter {
	t.Helper()
	c, err := NewCrypter(testAESKey, testAppID)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	c := testCrypter(t)
	for _, n := range []int{0, 1, 7, 8, 9, 10, 11, 12, 31, 32, 33, 100, 4096} {
		msg := bytes.Repeat([]byte("x"), n)
		enc, err := c.Encrypt(msg)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := base64.StdEncoding.DecodeString(enc)
		if len(raw)%32 != 0 {
			t.Errorf("%d bytes: ciphertext of %d bytes is not whole 32-byte blocks", n, len(raw))
		}
		got, err := c.Decrypt(enc)
		if err != nil || !bytes.Equal(got, msg) {
			t.Errorf("%d bytes: Decrypt = %q, %v", n, got, err)
		}
		enc2, _ := c.Encrypt(msg)
		if enc2 == enc {
			t.Errorf("%d bytes: two encryptions are equal: the random prefix is not random", n)
		}
	}
}

func TestNewCrypterErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, key, appID string }{
		{"short", testAESKey[:42], testAppID},
		{"long", testAESKey + "A", testAppID},
		{"not base64", "!" + testAESKey[1:], testAppID},
		{"empty", "", testAppID},
		{"no appid", testAESKey, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewCrypter(tc.key, tc.appID)
			if !errors.Is(err, ErrKey) {
				t.Fatalf("NewCrypter: %v, want ErrKey", err)
			}
			if tc.key != "" && strings.Contains(err.Error(), tc.key) {
				t.Fatalf("the error holds the key: %v", err)
			}
		})
	}
}

// encryptRaw encrypts plain (already padded) as the scheme does, so that
// tests can build wrong paddings and lengths.
func encryptRaw(t *testing.T, c *Crypter, plain []byte) string {
	t.Helper()
	if len(plain)%aes.BlockSize != 0 {
		t.Fatalf("test plaintext of %d bytes is not whole blocks", len(plain))
	}
	out := make([]byte, len(plain))
	cipher.NewCBCEncrypter(c.block, c.iv).CryptBlocks(out, plain)
	return base64.StdEncoding.EncodeToString(out)
}

func TestDecryptErrors(t *testing.T) {
	t.Parallel()
	c := testCrypter(t)
	good, err := c.Encrypt([]byte("<xml><InfoType>x</InfoType></xml>"))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.StdEncoding.DecodeString(good)
	flip := func(i int) string {
		b := bytes.Clone(raw)
		b[i] ^= 0x01
		return base64.StdEncoding.EncodeToString(b)
	}
	build := func(random []byte, n uint32, msg, appID string, pad int, padByte byte) []byte {
		var b []byte
		b = append(b, random...)
		b = append(b, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
		b = append(b, msg...)
		b = append(b, appID...)
		return append(b, bytes.Repeat([]byte{padByte}, pad)...)
	}
	rnd := bytes.Repeat([]byte{7}, 16)
	padTo := func(n int) int { return 32 - n%32 }
	body := "<xml/>"
	base := 16 + 4 + len(body) + len(testAppID)
	for _, tc := range []struct {
		name    string
		encrypt string
		want    error
	}{
		{"not base64", "%%%", ErrDecrypt},
		{"empty", "", ErrDecrypt},
		{"one block", base64.StdEncoding.EncodeToString(raw[:16]), ErrDecrypt},
		{"not whole blocks", base64.StdEncoding.EncodeToString(raw[:len(raw)-1]), ErrDecrypt},
		{"truncated by a block", base64.StdEncoding.EncodeToString(raw[:len(raw)-16]), ErrDecrypt},
		{"last byte flipped", flip(len(raw) - 1), ErrDecrypt},
		{"pad zero", encryptRaw(t, c, build(rnd, uint32(len(body)), body, testAppID, padTo(base), 0)), ErrDecrypt},
		{"pad over 32", encryptRaw(t, c, build(rnd, uint32(len(body)), body, testAppID+strings.Repeat("z", padTo(base)), 32, 33)), ErrDecrypt},
		{"pad bytes differ", encryptRaw(t, c, append(build(rnd, uint32(len(body)), body, testAppID, padTo(base)-1, 9), byte(padTo(base)))), ErrDecrypt},
		{"length too long", encryptRaw(t, c, build(rnd, 1000, body, testAppID, padTo(base), byte(padTo(base)))), ErrDecrypt},
		{"length max", encryptRaw(t, c, build(rnd, 0xffffffff, body, testAppID, padTo(base), byte(padTo(base)))), ErrDecrypt},
		{"length too short, so the appid is wrong", encryptRaw(t, c, build(rnd, 2, body, testAppID, padTo(base), byte(padTo(base)))), ErrAppID},
		{"wrong appid", encryptRaw(t, c, build(rnd, uint32(len(body)), body, "wx0c1d2e3f4a5b6c71", padTo(base), byte(padTo(base)))), ErrAppID},
		{"no appid", encryptRaw(t, c, build(rnd, uint32(len(body)), body, "", padTo(base-len(testAppID)), byte(padTo(base-len(testAppID))))), ErrAppID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := c.Decrypt(tc.encrypt)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Decrypt = %q, %v; want %v", got, err, tc.want)
			}
			if got != nil {
				t.Fatalf("Decrypt returned %q with its error", got)
			}
		})
	}
	// A flipped byte in the first block garbles the random prefix only
	// (CBC), so it still decrypts: the signature is what protects the
	// message, and Open checks it first.
	if _, err := c.Decrypt(flip(0)); err != nil {
		t.Logf("first-block flip: %v", err)
	}
}

func TestParseEnvelope(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, body, appID, encrypt string
		ok                         bool
	}{
		{"cdata", "<xml><AppId><![CDATA[wxA]]></AppId><Encrypt><![CDATA[abc=]]></Encrypt></xml>", "wxA", "abc=", true},
		{"text", "<xml><AppId>wxA</AppId><Encrypt>abc=</Encrypt></xml>", "wxA", "abc=", true},
		{"spaces and order", "\n<xml>\n <Encrypt>abc=</Encrypt>\n <AppId>wxA</AppId>\n</xml>\n", "wxA", "abc=", true},
		{"tousername", "<xml><ToUserName>wxB</ToUserName><Encrypt>e</Encrypt></xml>", "wxB", "e", true},
		{"no appid", "<xml><Encrypt>e</Encrypt></xml>", "", "e", true},
		{"declaration", `<?xml version="1.0" encoding="UTF-8"?><xml><Encrypt>e</Encrypt></xml>`, "", "e", true},
		{"no encrypt", "<xml><AppId>wxA</AppId></xml>", "", "", false},
		{"empty encrypt", "<xml><AppId>wxA</AppId><Encrypt></Encrypt></xml>", "", "", false},
		{"other root", "<msg><Encrypt>e</Encrypt></msg>", "", "", false},
		{"empty", "", "", "", false},
		{"json", `{"Encrypt":"e"}`, "", "", false},
		{"unclosed", "<xml><Encrypt>e</Encrypt>", "", "", false},
		{"two roots", "<xml><Encrypt>e</Encrypt></xml><xml><Encrypt>f</Encrypt></xml>", "", "", false},
		{"trailing text", "<xml><Encrypt>e</Encrypt></xml>junk", "", "", false},
		{"doctype", `<!DOCTYPE xml [<!ENTITY x "e">]><xml><Encrypt>&x;</Encrypt></xml>`, "", "", false},
		{"entity", `<xml><Encrypt>&x;</Encrypt></xml>`, "", "", false},
		{"too large", "<xml><Encrypt>" + strings.Repeat("A", MaxBodyBytes) + "</Encrypt></xml>", "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			appID, enc, err := ParseEnvelope([]byte(tc.body))
			if !tc.ok {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("ParseEnvelope = %q, %q, %v; want ErrMalformed", appID, enc, err)
				}
				return
			}
			if err != nil || appID != tc.appID || enc != tc.encrypt {
				t.Fatalf("ParseEnvelope = %q, %q, %v; want %q, %q", appID, enc, err, tc.appID, tc.encrypt)
			}
		})
	}
}

func TestParseMessage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		file string
		want *Message
		err  error
	}{
		{"ticket.xml", &Message{AppID: "wx0c1d2e3f4a5b6c70", CreateTime: 1413192605, InfoType: InfoVerifyTicket, ComponentVerifyTicket: "ticket@@@testdata-verify-ticket"}, nil},
		{"authorized.xml", &Message{AppID: "wx0c1d2e3f4a5b6c70", CreateTime: 1413192760, InfoType: InfoAuthorized, AuthorizerAppID: "wx9a8b7c6d5e4f3a20",
			AuthorizationCode: "queryauthcode@@@testdata-code", AuthorizationCodeExpiredTime: 1413196360, PreAuthCode: "preauthcode@@@testdata-pre"}, nil},
		{"updateauthorized.xml", &Message{AppID: "wx0c1d2e3f4a5b6c70", CreateTime: 1413192760, InfoType: InfoUpdateAuthorized, AuthorizerAppID: "wx9a8b7c6d5e4f3a20",
			AuthorizationCode: "queryauthcode@@@testdata-code2", AuthorizationCodeExpiredTime: 1413196360, PreAuthCode: "preauthcode@@@testdata-pre2"}, nil},
		{"unauthorized.xml", &Message{AppID: "wx0c1d2e3f4a5b6c70", CreateTime: 1413192760, InfoType: InfoUnauthorized, AuthorizerAppID: "wx9a8b7c6d5e4f3a20"}, nil},
		{"other.xml", &Message{AppID: "wx0c1d2e3f4a5b6c70", CreateTime: 1413192760, InfoType: "notify_third_fasteregister"}, nil},
		{"no-infotype.xml", nil, ErrMalformed},
		{"ticket-empty.xml", nil, ErrMalformed},
		{"authorized-no-code.xml", nil, ErrMalformed},
		{"authorized-bad-appid.xml", nil, ErrMalformed},
		{"createtime-not-number.xml", nil, ErrMalformed},
		{"truncated.xml", nil, ErrMalformed},
	} {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			b, err := os.ReadFile("testdata/messages/" + tc.file)
			if err != nil {
				t.Fatal(err)
			}
			m, err := ParseMessage(b)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("ParseMessage: %v, want %v", err, tc.err)
				}
				if strings.Contains(err.Error(), "@@@") {
					t.Fatalf("the error quotes the message: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if *m != *tc.want {
				t.Fatalf("ParseMessage =\n%#v\nwant\n%#v", fields(*m), fields(*tc.want))
			}
		})
	}
}

// fields lists a message's fields for a failure message (Message itself
// prints redacted).
func fields(m Message) string {
	return fmt.Sprintf("%s %d %s ticket=%s %s code=%s %d pre=%s", m.AppID, m.CreateTime, m.InfoType,
		m.ComponentVerifyTicket, m.AuthorizerAppID, m.AuthorizationCode, m.AuthorizationCodeExpiredTime, m.PreAuthCode)
}

func TestMessageNeverShowsSecrets(t *testing.T) {
	t.Parallel()
	m := &Message{AppID: testAppID, CreateTime: 1, InfoType: InfoAuthorized, AuthorizerAppID: "wxA",
		ComponentVerifyTicket: "ticket@@@secret-ticket", AuthorizationCode: "queryauthcode@@@secret-code", PreAuthCode: "preauthcode@@@secret-pre"}
	var outs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		outs = append(outs, fmt.Sprintf(verb, m), fmt.Sprintf(verb, *m))
	}
	j, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	outs = append(outs, string(j))
	var logBuf bytes.Buffer
	slog.New(slog.NewJSONHandler(&logBuf, nil)).Info("push", "message", m)
	slog.New(slog.NewTextHandler(&logBuf, nil)).Info("push", "message", *m)
	outs = append(outs, logBuf.String())
	for _, o := range outs {
		if strings.Contains(o, "secret") {
			t.Errorf("output shows a secret: %s", o)
		}
	}
	if !strings.Contains(string(j), `"authorizer_appid":"wxA"`) || !strings.Contains(logBuf.String(), "wxA") {
		t.Errorf("outputs lost the authorizer appid: %s %s", j, logBuf.String())
	}
}

func TestValidAppID(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]bool{
		"wx9a8b7c6d5e4f3a20": true, "A_b_9": true, strings.Repeat("a", 64): true,
		"": false, strings.Repeat("a", 65): false, "wx-1": false, "wx 1": false, "wx/1": false, "wx\u00e91": false,
	} {
		if ValidAppID(s) != want {
			t.Errorf("ValidAppID(%q) = %v", s, !want)
		}
	}
}
