package dev.wafermon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The conformance testee (conformance/testees/java) on a scenario using every op. */
class TesteeTest {
    @TempDir Path dir;

    @Test
    void everyOpReportsItsResult() throws Exception {
        String scenario = "{\"name\": \"all_ops\", \"steps\": ["
                + "{\"op\": \"start\", \"as\": \"j\", \"business_key\": \"b-1\", \"site_id\": \"fab1\", \"metadata\": {\"k\": 1}},"
                + "{\"op\": \"subjob\", \"parent\": \"j\", \"as\": \"w\", \"sub_key\": \"wafer-1\"},"
                + "{\"op\": \"progress\", \"job\": \"w\", \"fraction\": 0.5, \"metadata\": {\"step\": \"etch\"}},"
                + "{\"op\": \"progress\", \"job\": \"w\", \"fraction\": null, \"metadata_raw\": \"[1, 2]\"},"
                + "{\"op\": \"heartbeat\", \"job\": \"w\"},"
                + "{\"op\": \"succeed\", \"job\": \"w\"},"
                + "{\"op\": \"fail\", \"job\": \"j\", \"error_type\": \"ValueError\", \"error_message\": \"boom\"},"
                + "{\"op\": \"cancel\", \"job\": \"j\", \"expect_error\": \"StateError\"},"
                + "{\"op\": \"start\", \"as\": \"x\", \"metadata_raw\": \"\\\"text\\\"\"},"
                + "{\"op\": \"flush\", \"timeout\": 10},"
                + "{\"op\": \"sleep\", \"seconds\": 0.05},"
                + "{\"op\": \"fork_child\", \"parent\": \"j\", \"as\": \"c\", \"sub_key\": \"c-1\"}]}";
        Path file = dir.resolve("s.json");
        Files.writeString(file, scenario);
        List<String> cmd = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"),
                "dev.wafermon.conformance.Testee", file.toString()));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().put("WAFERMON_CONFIG", Fixtures.JSON.writeValueAsString(Fixtures.directConfig(dir)));
        pb.redirectError(ProcessBuilder.Redirect.INHERIT);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
        List<JsonNode> lines = new ArrayList<>();
        for (String line : out.split("\n")) {
            lines.add(Fixtures.JSON.readTree(line));
        }
        assertEquals(12, lines.size(), out);
        boolean[] ok = {true, true, true, false, true, true, true, false, false, true, true, false};
        String[] err = {null, null, null, "MetadataError", null, null, null, "StateError",
            "MetadataError", null, null, "NotSupported"};
        for (int i = 0; i < ok.length; i++) {
            assertEquals(i, lines.get(i).get("step").asInt());
            assertEquals(ok[i], lines.get(i).get("ok").asBoolean(), lines.get(i).toString());
            if (err[i] != null) {
                assertEquals(err[i], lines.get(i).get("error").asText(), lines.get(i).toString());
            }
        }
        List<JsonNode> events = Fixtures.events(dir);
        assertEquals(6, events.size(), "j: started, failed; w: started, progress, heartbeat, succeeded");
        assertEquals(lines.get(0).get("id").asText(), Fixtures.of(events, lines.get(0).get("id").asText())
                .get(0).get("entity_id").asText());
        JsonNode failed = Fixtures.of(events, lines.get(0).get("id").asText()).get(1);
        assertEquals("ValueError", failed.get("error").get("type").asText());
    }
}
