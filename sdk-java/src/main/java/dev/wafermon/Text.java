package dev.wafermon;

import java.nio.charset.StandardCharsets;

/**
 * Java strings to the UTF-8 bytes the C core takes. A Java string can hold what UTF-8 cannot carry
 * (an unpaired surrogate) and what a C string cannot carry (a NUL character): both are refused here
 * with {@link EncodingException} naming the argument, instead of being silently replaced or cut.
 */
final class Text {
    private Text() {}

    /** The UTF-8 bytes of {@code s} (no terminator), or null for null. */
    static byte[] utf8(String what, String s) {
        if (s == null) {
            return null;
        }
        int n = s.length();
        boolean ascii = true;
        for (int i = 0; i < n; i++) {
            char c = s.charAt(i);
            if (c == 0) {
                throw new EncodingException(what + " contains a NUL character at index " + i);
            }
            if (c >= 0x80) {
                ascii = false;
                if (Character.isHighSurrogate(c)) {
                    if (i + 1 < n && Character.isLowSurrogate(s.charAt(i + 1))) {
                        i++;
                    } else {
                        throw unpaired(what, i);
                    }
                } else if (Character.isLowSurrogate(c)) {
                    throw unpaired(what, i);
                }
            }
        }
        if (ascii) {
            byte[] out = new byte[n];
            for (int i = 0; i < n; i++) {
                out[i] = (byte) s.charAt(i);
            }
            return out;
        }
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static EncodingException unpaired(String what, int index) {
        return new EncodingException(
                what + " is not valid Unicode: unpaired surrogate at index " + index);
    }
}
