package dev.wafermon;

import static dev.wafermon.Fixtures.expect;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Bad input: each error class, with a message naming what is at fault. */
class ErrorsTest extends DirectClientTest {
    private static void contains(Throwable e, String part) {
        assertTrue(e.getMessage().contains(part), "message '" + e.getMessage() + "' names " + part);
    }

    @Test
    void invalidArgument() {
        try (Job job = client.job("x").start()) {
            contains(expect(InvalidArgumentException.class, () -> job.progress(1.5)), "between 0 and 1");
            contains(expect(InvalidArgumentException.class, () -> job.progress(-0.1)), "progress");
            contains(expect(InvalidArgumentException.class, () -> job.fail("", "m")), "error_type");
            contains(expect(InvalidArgumentException.class, () -> job.fail((String) null, "m")), "error_type");
            expect(InvalidArgumentException.class, () -> job.fail((Throwable) null));
            expect(InvalidArgumentException.class, () -> job.trace("XYZ", "00f067aa0ba902b7"));
            contains(expect(InvalidArgumentException.class, () -> job.metric(Metric.CPU_USER_S, -1)), "cpu_user_s");
            expect(InvalidArgumentException.class, () -> job.metric(Metric.DURATION_S, Double.NaN));
            expect(InvalidArgumentException.class, () -> job.metric(null, 1));
            contains(expect(InvalidArgumentException.class, () -> job.subjob("w").site("fab1")), "site");
            expect(InvalidArgumentException.class, () -> client.flush(Duration.ofSeconds(-1)));
            contains(expect(InvalidArgumentException.class, () -> client.job("y").site("").start()), "site");
            assertEquals(1, expect(InvalidArgumentException.class, () -> job.progress(2)).code());
        }
    }

    @Test
    void config() {
        ConfigException e = expect(ConfigException.class, () -> Client.open(Map.of("nope", 1)));
        contains(e, "nope");
        assertEquals("ConfigError", e.errorName());
        assertEquals("WM_E_CONFIG", e.statusName());
        contains(expect(ConfigException.class, () -> Client.open(Map.of("mode", "teleport"))), "mode");
        contains(expect(ConfigException.class, () -> Client.open(Map.of("batch_size", "ten"))), "batch_size");
        contains(expect(ConfigException.class, () -> Client.open(Map.of("mode", "direct"))), "direct_backends");
        contains(expect(ConfigException.class, () -> Client.open(Map.of("sidecar", Map.of("url", "ftp://x")))), "sidecar.url");
        contains(expect(ConfigException.class, () -> Client.open(Map.of("flush_interval", Double.NaN))), "flush_interval");
        contains(expect(ConfigException.class, () -> Client.open(Map.of("app", Map.of("name", new Object())))), "app.name");
        contains(expect(ConfigException.class, () -> Client.open(Map.of("sdk", Map.of("extra", "x")))), "sdk.extra");
    }

    @Test
    void encoding() {
        contains(expect(EncodingException.class, () -> client.job("bad \ud800 key").start()), "business_key");
        contains(expect(EncodingException.class, () -> client.job("nul\0key").start()), "NUL");
        contains(expect(EncodingException.class, () -> client.job("k").site("f\udc00").start()), "site_id");
        EncodingException e = expect(EncodingException.class,
                () -> client.job("k").metadata(Map.of("outer", Map.of("inner", "x\ud83d"))));
        contains(e, "outer.inner");
        assertEquals("EncodingError", e.errorName());
        try (Job job = client.job("k").start()) {
            contains(expect(EncodingException.class, () -> job.subjob("\udfff").start()), "sub_key");
            contains(expect(EncodingException.class, () -> job.fail("T", "msg \ud800")), "error_message");
        }
    }

    @Test
    void metadata() {
        MetadataException e = expect(MetadataException.class,
                () -> client.job("k").metadata(Map.of("scan", Map.of("ratio", Double.NaN))));
        contains(e, "scan.ratio");
        assertEquals("MetadataError", e.errorName());
        assertEquals(4, e.code());
        contains(expect(MetadataException.class,
                () -> client.job("k").metadata(Map.of("list", List.of(1, Double.POSITIVE_INFINITY)))), "list[1]");
        contains(expect(MetadataException.class,
                () -> client.job("k").metadata(Map.of("t", new Thread()))), "java.lang.Thread");
        Map<Object, Object> intKey = new HashMap<>();
        intKey.put(1, "x");
        contains(expect(MetadataException.class,
                () -> client.job("k").metadata(Map.of("m", intKey))), "keys must be strings");
        Map<String, Object> cycle = new LinkedHashMap<>();
        cycle.put("self", cycle);
        contains(expect(MetadataException.class, () -> client.job("k").metadata(cycle)), "levels deep");
        List<Object> selfList = new ArrayList<>();
        selfList.add(selfList);
        contains(expect(MetadataException.class,
                () -> client.job("k").metadata(Map.of("l", selfList))), "levels deep");
        // Non-objects and invalid JSON given as text are refused by the C core itself.
        contains(expect(MetadataException.class, () -> client.job("k").metadataJson("[1, 2]").start()),
                "must be a JSON object");
        // (a JSON scalar is refused by the parser itself: "'[' or '{' expected")
        contains(expect(MetadataException.class, () -> client.job("k").metadataJson("\"s\"").start()),
                "metadata");
        contains(expect(MetadataException.class, () -> client.job("k")
                .metadata(Map.of("n", new java.math.BigInteger("123456789012345678901234567890")))), "64-bit");
        contains(expect(MetadataException.class, () -> client.job("k")
                .metadata(Map.of("d", new java.math.BigDecimal("1e400")))), "\"d\"");
        contains(expect(MetadataException.class, () -> client.job("k").metadataJson("{oops").start()),
                "not valid JSON");
        try (Job job = client.job("k").start()) {
            expect(MetadataException.class, () -> job.progressJson(0.5, "42"));
            expect(MetadataException.class, () -> job.succeedJson("null"));
            // a NUL inside a metadata string travels as \u0000, which the core refuses
            expect(MetadataException.class, () -> job.progress(0.5, Map.of("k", "a\0b")));
        }
    }

    @Test
    void tooLarge() {
        TooLargeException e = expect(TooLargeException.class, () -> client.job("k".repeat(300)).start());
        contains(e, "business_key");
        assertEquals("TooLargeError", e.errorName());
        contains(expect(TooLargeException.class, () -> client.job("k").site("s".repeat(129)).start()), "site_id");
        contains(expect(TooLargeException.class,
                () -> client.job("k").metadata(Map.of("blob", "x".repeat(70000))).start()), "metadata");
        try (Job job = client.job("k").start()) {
            expect(TooLargeException.class, () -> job.subjob("w".repeat(257)).start());
            // an over-long failure is cut, never refused
            job.fail("E".repeat(1000), "m".repeat(20000));
        }
    }

    @Test
    void timeout() {
        // Nothing listens on port 9: events wait for retries, so a zero-second flush times out.
        Map<String, Object> cfg = new LinkedHashMap<>();
        cfg.put("mode", "sidecar");
        cfg.put("sidecar", Map.of("url", "http://127.0.0.1:9", "retries", 0, "timeout", 0.5));
        cfg.put("spool", Map.of("path", dir.resolve("spool2").toString()));
        try (Client c = Client.open(cfg)) {
            WafermonTimeoutException seen = null;
            for (int attempt = 0; attempt < 20 && seen == null; attempt++) {
                for (int i = 0; i < 200; i++) {
                    try (Job job = c.job("t").start()) {
                        job.heartbeat();
                    }
                }
                try {
                    c.flush(0);
                } catch (WafermonTimeoutException e) {
                    seen = e;
                }
            }
            assertTrue(seen != null, "flush(0) with 600 events queued timed out at least once");
            assertEquals("TimeoutError", seen.errorName());
            contains(seen, "flush");
        }
    }

    @Test
    void io() throws Exception {
        Path file = Files.createFile(dir.resolve("a-file"));
        Map<String, Object> cfg = Fixtures.directConfig(dir);
        cfg.put("direct_backends", List.of(Map.of("type", "filesystem",
                "path", file.resolve("below-a-file").toString())));
        cfg.put("spool", Map.of("path", file.resolve("spool").toString()));
        WafermonException e = expect(WafermonIOException.class, () -> Client.open(cfg).close());
        assertEquals("IOError", e.errorName());
        contains(e, "a-file");
    }

    @Test
    @SuppressWarnings("deprecation")
    void theOldNamesStillCatchWhatIsThrown() {
        // dev.wafermon.IOException / TimeoutException shared their names with JDK classes; code
        // written against them keeps working: the prefixed classes thrown now are subclasses.
        WafermonException io = Status.exception(10, "io detail");
        WafermonException timeout = Status.exception(9, "timeout detail");
        assertEquals(WafermonIOException.class, io.getClass());
        assertEquals(WafermonTimeoutException.class, timeout.getClass());
        try {
            throw io;
        } catch (IOException e) {
            assertEquals("io detail", e.getMessage());
        }
        try {
            throw timeout;
        } catch (TimeoutException e) {
            assertEquals("TimeoutError", e.errorName());
        }
        assertTrue(IOException.class.isAnnotationPresent(Deprecated.class));
        assertTrue(TimeoutException.class.isAnnotationPresent(Deprecated.class));
    }
}
