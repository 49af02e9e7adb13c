package dev.wafermon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The example of sdk-java/README.md (and docs/java.md), run as written. */
class ReadmeExampleTest {
    @TempDir Path dir;

    void example(String eventsDir) {
        // --- README example begins ---
        // Direct mode: events go to JSONL files in eventsDir (without configure(), to the sidecar).
        Wafermon.configure(Map.of(
                "mode", "direct",
                "direct_backends", List.of(Map.of("type", "filesystem", "path", eventsDir))));

        try (Job batch = Wafermon.job("batch-1").site("fab1").metadata(Map.of("recipe", "etch-7")).start()) {
            for (int i = 1; i <= 3; i++) {
                try (Job wafer = batch.subjob("wafer-" + i).start()) {
                    wafer.progress(0.5, Map.of("step", "etch"));
                }                                   // leaving the block: wafer succeeded
                batch.progress(i / 3.0);
            }
        }                                           // batch succeeded

        // An exception inside run() marks the job failed (type = exception class), then is rethrown.
        try {
            Wafermon.job("batch-2").run(job -> {
                throw new IllegalStateException("chamber pressure out of range");
            });
        } catch (IllegalStateException expected) {
            // batch-2 is reported failed
        }
        Wafermon.shutdown(Duration.ofSeconds(5));   // flush and close (JVM exit flushes too)
        // --- README example ends ---
    }

    @Test
    void exampleRunsAndReportsWhatItSays() throws Exception {
        example(dir.resolve("events").toString());
        List<JsonNode> es = Fixtures.events(dir);
        List<JsonNode> finished = es.stream().filter(e -> e.get("event_kind").asText().equals("finished"))
                .collect(Collectors.toList());
        assertEquals(5, finished.size(), "batch-1, three wafers, batch-2");
        long wafers = finished.stream().filter(e -> e.get("entity_type").asText().equals("subjob")
                && e.get("status").asText().equals("succeeded")).count();
        assertEquals(3, wafers);
        JsonNode b1 = finished.stream().filter(e -> e.get("entity_type").asText().equals("job")
                && e.get("business_key").asText().equals("batch-1")).findFirst().orElseThrow();
        assertEquals("succeeded", b1.get("status").asText());
        JsonNode b2 = finished.stream().filter(e -> e.get("business_key").asText().equals("batch-2"))
                .findFirst().orElseThrow();
        assertEquals("failed", b2.get("status").asText());
        assertEquals("java.lang.IllegalStateException", b2.get("error").get("type").asText());
        assertEquals("chamber pressure out of range", b2.get("error").get("message").asText());
    }

    /** The README shows exactly this code: compare the README's block with the method above. */
    @Test
    void readmeShowsThisCode() throws Exception {
        String test = Files.readString(Path.of("src/test/java/dev/wafermon/ReadmeExampleTest.java"));
        String body = between(test, "// --- README example begins ---\n", "        // --- README example ends ---");
        for (String doc : List.of("README.md", "../docs/java.md")) {
            String readme = Files.readString(Path.of(doc));
            String block = between(readme, "<!-- example: ReadmeExampleTest -->\n```java\n", "```");
            assertEquals(strip(body), strip(block), doc + " example = ReadmeExampleTest.example");
        }
    }

    private static String between(String s, String start, String end) {
        int i = s.indexOf(start);
        assertTrue(i >= 0, "marker " + start);
        int j = s.indexOf(end, i + start.length());
        return s.substring(i + start.length(), j);
    }

    private static String strip(String s) {
        return s.lines().map(String::strip).filter(l -> !l.isEmpty()).collect(Collectors.joining("\n"));
    }
}
