package snapshot

import (
	"errors"
	"strconv"
	"strings"
)

// MaxAmountIntDigits bounds amounts to what numeric(14,2) stores.
const MaxAmountIntDigits = 12

var (
	errNotDecimal   = errors.New("not a decimal number")
	errTooPrecise   = errors.New("more than 2 decimal places")
	errOutOfRange   = errors.New("out of range (at most 12 digits before the decimal point)")
	errNotInteger   = errors.New("not an integer")
	errEmptyDecimal = errors.New("empty")
)

// ParseCents parses a decimal number in JSON number syntax (optional sign,
// digits, optional fraction, optional exponent) into an exact count of
// hundredths. It never goes through floating point, so 4.46 is 446 exactly;
// a value that needs more than two decimal places is an error, not rounded.
func ParseCents(s string) (int64, error) {
	if s == "" {
		return 0, errEmptyDecimal
	}
	i := 0
	neg := false
	if s[0] == '-' {
		neg = true
		i++
	}
	var digits []byte // significant digits, leading zeros dropped
	var buf [32]byte
	digits = buf[:0]
	scale := 0 // number of digits after the decimal point in digits
	intStart := i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		if len(digits) > 0 || s[i] != '0' {
			digits = append(digits, s[i])
		}
		i++
	}
	if i == intStart {
		return 0, errNotDecimal
	}
	if i < len(s) && s[i] == '.' {
		i++
		fracStart := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			if len(digits) > 0 || s[i] != '0' {
				digits = append(digits, s[i])
			}
			scale++
			i++
		}
		if i == fracStart {
			return 0, errNotDecimal
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		expStart := i
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i == len(s) || s[i] < '0' || s[i] > '9' {
			return 0, errNotDecimal
		}
		exp, err := strconv.ParseInt(s[expStart:], 10, 32)
		if err != nil {
			if strings.Trim(s[expStart:], "+-0123456789") != "" {
				return 0, errNotDecimal
			}
			return 0, errOutOfRange
		}
		i = len(s)
		scale -= int(exp)
	}
	if i != len(s) {
		return 0, errNotDecimal
	}
	// Trailing zeros carry no value: 12.340 is 12.34.
	for len(digits) > 0 && digits[len(digits)-1] == '0' && scale > 0 {
		digits = digits[:len(digits)-1]
		scale--
	}
	if len(digits) == 0 {
		return 0, nil
	}
	if scale > 2 {
		return 0, errTooPrecise
	}
	if len(digits)-scale > MaxAmountIntDigits {
		return 0, errOutOfRange
	}
	var v int64
	for _, c := range digits {
		v = v*10 + int64(c-'0')
	}
	for ; scale < 2; scale++ {
		v *= 10
	}
	if neg {
		v = -v
	}
	return v, nil
}

// FormatCents renders hundredths as a decimal string with two places.
func FormatCents(c int64) string {
	neg := c < 0
	if neg {
		c = -c
	}
	s := strconv.FormatInt(c/100, 10) + "." + strconv.FormatInt(100+c%100, 10)[1:]
	if neg {
		return "-" + s
	}
	return s
}

// isJSONInteger reports whether a JSON number literal is an integer written
// without fraction or exponent, the only number form accepted for ids.
func isJSONInteger(s string) bool {
	if s == "" {
		return false
	}
	if s[0] == '-' {
		s = s[1:]
	}
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
