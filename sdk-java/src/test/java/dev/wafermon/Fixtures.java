package dev.wafermon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/** Shared helpers: a direct-mode client writing JSONL into a temp dir, and reading it back. */
final class Fixtures {
    static final ObjectMapper JSON = new ObjectMapper();

    private Fixtures() {}

    /** Direct mode: the filesystem backend into dir/events, the spool in dir/spool. */
    static Map<String, Object> directConfig(Path dir) {
        Map<String, Object> config = new LinkedHashMap<>();
        config.put("mode", "direct");
        config.put("direct_backends", List.of(Map.of("type", "filesystem",
                "path", dir.resolve("events").toString(), "fsync", false)));
        config.put("spool", Map.of("path", dir.resolve("spool").toString()));
        config.put("app", Map.of("name", "java-tests", "version", "1.2.3", "site_id", "site-default"));
        config.put("flush_interval", 0.01);
        return config;
    }

    static Client direct(Path dir) {
        return Client.open(directConfig(dir));
    }

    /** Every event written under dir/events, in file and line order, each checked by validate. */
    static List<JsonNode> events(Path dir) throws IOException {
        Path events = dir.resolve("events");
        List<JsonNode> out = new ArrayList<>();
        if (!Files.isDirectory(events)) {
            return out;
        }
        List<Path> files;
        try (Stream<Path> s = Files.list(events)) {
            files = s.filter(p -> p.getFileName().toString().endsWith(".jsonl")).sorted()
                    .collect(Collectors.toList());
        }
        for (Path f : files) {
            for (String line : Files.readAllLines(f)) {
                if (!line.isBlank()) {
                    JsonNode e = JSON.readTree(line);
                    validate(e);
                    out.add(e);
                }
            }
        }
        return out;
    }

    /** The events of one entity, by seq. */
    static List<JsonNode> of(List<JsonNode> events, String entityId) {
        return events.stream().filter(e -> e.get("entity_id").asText().equals(entityId))
                .sorted((a, b) -> Long.compare(a.get("seq").asLong(), b.get("seq").asLong()))
                .collect(Collectors.toList());
    }

    private static JsonNode schema;

    static synchronized JsonNode schema() throws IOException {
        if (schema == null) {
            schema = JSON.readTree(Path.of(System.getProperty("wafermon.test.schema")).toFile());
        }
        return schema;
    }

    /**
     * The checks of conformance/schema/event-v1.json that matter here: every required field is
     * present, no field outside the schema's properties, and the values the SDK influences have
     * the right shape.
     */
    static void validate(JsonNode e) throws IOException {
        JsonNode s = schema();
        for (JsonNode req : s.get("required")) {
            assertTrue(e.has(req.asText()), "event lacks required field " + req + ": " + e);
        }
        Set<String> known = new HashSet<>();
        s.get("properties").fieldNames().forEachRemaining(known::add);
        for (Iterator<String> it = e.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            assertTrue(known.contains(f), "event has field " + f + " outside the schema: " + e);
        }
        assertEquals("wafermon.event/1", e.get("schema").asText());
        assertTrue(e.get("event_id").asText().matches("[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"),
                "event_id is a UUIDv7: " + e.get("event_id"));
        assertTrue(List.of("started", "progress", "heartbeat", "finished")
                .contains(e.get("event_kind").asText()));
        assertTrue(List.of("job", "subjob").contains(e.get("entity_type").asText()));
        assertTrue(List.of("running", "succeeded", "failed", "cancelled")
                .contains(e.get("status").asText()));
        assertTrue(e.get("seq").isIntegralNumber() && e.get("seq").asLong() >= 0);
        assertTrue(e.get("at").asText().matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{6}Z"),
                "at is RFC 3339 UTC with microseconds: " + e.get("at"));
        assertEquals("java", e.get("sdk").get("lang").asText());
        assertEquals(Wafermon.version(), e.get("sdk").get("version").asText());
        assertTrue(e.get("metadata").isObject() || e.get("metadata").isNull());
        if (e.get("event_kind").asText().equals("finished")) {
            JsonNode m = e.get("metrics");
            for (String k : List.of("duration_s", "cpu_user_s", "cpu_sys_s", "mem_max_mb")) {
                assertTrue(m.has(k) && m.get(k).asDouble() >= 0, "finished has metric " + k);
            }
        }
        if ("failed".equals(e.get("status").asText())) {
            assertTrue(e.get("error").isObject(), "a failed event has an error object");
        }
    }

    /** Runs body and fails the test unless it throws exactly type; returns the exception. */
    static <T extends Throwable> T expect(Class<T> type, Runnable body) {
        try {
            body.run();
        } catch (Throwable t) {
            if (type.isInstance(t) && t.getClass() == type) {
                return type.cast(t);
            }
            fail("expected " + type.getSimpleName() + ", got " + t, t);
        }
        fail("expected " + type.getSimpleName() + ", nothing was thrown");
        return null;
    }
}
