package dev.wafermon;

import java.lang.reflect.Array;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A small, strict JSON writer for metadata and configuration maps, so the SDK needs no library.
 *
 * <p>Accepted values: {@code null}, {@link String}, {@link Character}, {@link Boolean}, the JDK's
 * integral numbers ({@code Byte Short Integer Long AtomicInteger AtomicLong}, {@code BigInteger} within
 * 64 bits), finite {@code Float Double} and {@code BigDecimal} within double range, {@link Map} with {@link String} keys, {@link Iterable}, and
 * arrays (object or primitive). Anything else — a NaN or infinite number, a non-String key, an
 * unknown type, nesting deeper than {@value #MAX_DEPTH} levels (which also stops cycles), a string
 * with an unpaired surrogate — is refused with an exception naming the key path, e.g.
 * {@code metadata key "recipe.steps[2]"}. Strings are escaped fully ({@code " \ } and every
 * control character); other characters are written as themselves and sent as UTF-8.
 */
final class Json {
    static final int MAX_DEPTH = 64;

    /** What is being written: decides the exception type and the words of messages. */
    enum Kind {
        METADATA("metadata"),
        CONFIG("config");

        final String word;

        Kind(String word) {
            this.word = word;
        }
    }

    private Json() {}

    /** The JSON text of {@code map} as UTF-8 bytes, or null when map is null. */
    static byte[] objectBytes(Kind kind, Map<String, ?> map) {
        if (map == null) {
            return null;
        }
        return objectText(kind, map).getBytes(java.nio.charset.StandardCharsets.UTF_8);
    }

    static String objectText(Kind kind, Map<String, ?> map) {
        StringBuilder sb = new StringBuilder(64);
        writeMap(kind, sb, map, "", 0);
        return sb.toString();
    }

    private static WafermonException error(Kind kind, String path, String what) {
        String where = path.isEmpty() ? kind.word : kind.word + " key \"" + path + "\"";
        String message = where + ": " + what;
        return kind == Kind.CONFIG ? new ConfigException(message) : new MetadataException(message);
    }

    private static String child(String path, String key) {
        return path.isEmpty() ? key : path + "." + key;
    }

    private static void writeMap(Kind kind, StringBuilder sb, Map<?, ?> map, String path, int depth) {
        if (depth >= MAX_DEPTH) {
            throw error(kind, path, "nested more than " + MAX_DEPTH + " levels deep (a cycle?)");
        }
        sb.append('{');
        boolean first = true;
        for (Map.Entry<?, ?> e : map.entrySet()) {
            Object k = e.getKey();
            if (!(k instanceof String)) {
                throw error(kind, path, "keys must be strings, got "
                        + (k == null ? "a null key" : "a key of type " + k.getClass().getName()));
            }
            String key = (String) k;
            String keyPath = child(path, key);
            if (!first) {
                sb.append(',');
            }
            first = false;
            writeString(kind, sb, key, keyPath);
            sb.append(':');
            writeValue(kind, sb, e.getValue(), keyPath, depth + 1);
        }
        sb.append('}');
    }

    private static void writeValue(Kind kind, StringBuilder sb, Object v, String path, int depth) {
        if (v == null) {
            sb.append("null");
        } else if (v instanceof String) {
            writeString(kind, sb, (String) v, path);
        } else if (v instanceof Boolean) {
            sb.append(((Boolean) v).booleanValue() ? "true" : "false");
        } else if (v instanceof Integer || v instanceof Long || v instanceof Short
                || v instanceof Byte || v instanceof AtomicInteger || v instanceof AtomicLong) {
            sb.append(v.toString());
        } else if (v instanceof BigInteger) {
            // The core (jansson) holds integers as 64-bit: refuse here, naming the key.
            if (((BigInteger) v).bitLength() > 63) {
                throw error(kind, path, v + " is outside the signed 64-bit range of JSON integers "
                        + "wafermon accepts (send it as a string)");
            }
            sb.append(v.toString());
        } else if (v instanceof Double || v instanceof Float) {
            double d = ((Number) v).doubleValue();
            if (!Double.isFinite(d)) {
                throw error(kind, path, d + " is not a JSON number (only finite numbers are)");
            }
            // Double.toString / Float.toString: "1.0", "1.0E-5" — valid JSON numbers.
            sb.append(v.toString());
        } else if (v instanceof BigDecimal) {
            if (!Double.isFinite(((BigDecimal) v).doubleValue())) {
                throw error(kind, path, v + " is outside the range of a double (send it as a "
                        + "string)");
            }
            sb.append(((BigDecimal) v).toString());
        } else if (v instanceof Character) {
            writeString(kind, sb, v.toString(), path);
        } else if (v instanceof Map) {
            writeMap(kind, sb, (Map<?, ?>) v, path, depth);
        } else if (v instanceof Iterable) {
            checkDepth(kind, path, depth);
            sb.append('[');
            int i = 0;
            for (Object item : (Iterable<?>) v) {
                if (i > 0) {
                    sb.append(',');
                }
                writeValue(kind, sb, item, path + "[" + i + "]", depth + 1);
                i++;
            }
            sb.append(']');
        } else if (v.getClass().isArray()) {
            checkDepth(kind, path, depth);
            sb.append('[');
            int n = Array.getLength(v);
            for (int i = 0; i < n; i++) {
                if (i > 0) {
                    sb.append(',');
                }
                writeValue(kind, sb, Array.get(v, i), path + "[" + i + "]", depth + 1);
            }
            sb.append(']');
        } else {
            throw error(kind, path, "a value of type " + v.getClass().getName()
                    + " cannot be written as JSON (use String, Number, Boolean, null, Map, List "
                    + "or an array)");
        }
    }

    private static void checkDepth(Kind kind, String path, int depth) {
        if (depth >= MAX_DEPTH) {
            throw error(kind, path, "nested more than " + MAX_DEPTH + " levels deep (a cycle?)");
        }
    }

    private static final char[] HEX = "0123456789abcdef".toCharArray();

    private static void writeString(Kind kind, StringBuilder sb, String s, String path) {
        sb.append('"');
        int n = s.length();
        for (int i = 0; i < n; i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"': sb.append("\\\""); break;
                case '\\': sb.append("\\\\"); break;
                case '\n': sb.append("\\n"); break;
                case '\r': sb.append("\\r"); break;
                case '\t': sb.append("\\t"); break;
                case '\b': sb.append("\\b"); break;
                case '\f': sb.append("\\f"); break;
                default:
                    if (c < 0x20) {
                        sb.append("\\u00").append(HEX[c >> 4]).append(HEX[c & 0xf]);
                    } else if (Character.isHighSurrogate(c)) {
                        if (i + 1 < n && Character.isLowSurrogate(s.charAt(i + 1))) {
                            sb.append(c).append(s.charAt(++i));
                        } else {
                            throw encoding(kind, path, i);
                        }
                    } else if (Character.isLowSurrogate(c)) {
                        throw encoding(kind, path, i);
                    } else {
                        sb.append(c);
                    }
            }
        }
        sb.append('"');
    }

    private static WafermonException encoding(Kind kind, String path, int index) {
        String where = path.isEmpty() ? kind.word : kind.word + " key \"" + path + "\"";
        String message = where + ": string is not valid Unicode: unpaired surrogate at index "
                + index;
        return kind == Kind.CONFIG ? new ConfigException(message) : new EncodingException(message);
    }
}
