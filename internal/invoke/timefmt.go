package invoke

import "time"

// appendTime appends t as t.AppendFormat(b, layout) does for layout
// TimeFormat (the event's time, milliseconds) when millis is set, else
// time.RFC3339Nano (the log line's), without parsing the layout each
// time: by hand when t's offset is zero (UTC, and Lambda's local time),
// through AppendFormat otherwise.
func appendTime(b []byte, t time.Time, millis bool) []byte {
	year, month, day := t.Date()
	if _, off := t.Zone(); off != 0 || year < 0 || year > 9999 {
		if millis {
			return t.AppendFormat(b, TimeFormat)
		}
		return t.AppendFormat(b, time.RFC3339Nano)
	}
	hour, minute, sec := t.Clock()
	b = appendDigits(b, year, 4)
	b = append(b, '-')
	b = appendDigits(b, int(month), 2)
	b = append(b, '-')
	b = appendDigits(b, day, 2)
	b = append(b, 'T')
	b = appendDigits(b, hour, 2)
	b = append(b, ':')
	b = appendDigits(b, minute, 2)
	b = append(b, ':')
	b = appendDigits(b, sec, 2)
	ns := t.Nanosecond()
	switch {
	case millis:
		b = append(b, '.')
		b = appendDigits(b, ns/1e6, 3)
	case ns != 0:
		// Nanoseconds without their trailing zeros.
		digits := 9
		for ns%10 == 0 {
			ns /= 10
			digits--
		}
		b = append(b, '.')
		b = appendDigits(b, ns, digits)
	}
	return append(b, 'Z')
}

// appendDigits appends n (≥ 0) in exactly width digits.
func appendDigits(b []byte, n, width int) []byte {
	var buf [9]byte
	for i := width - 1; i >= 0; i-- {
		buf[i] = byte('0' + n%10)
		n /= 10
	}
	return append(b, buf[:width]...)
}
