package dev.wafermon.conformance;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.wafermon.Job;
import dev.wafermon.JobBuilder;
import dev.wafermon.Wafermon;
import dev.wafermon.WafermonException;
import java.io.File;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The Java conformance testee (conformance/PROTOCOL.md): performs a scenario's steps through the
 * public dev.wafermon API, on the default client (configured by the runner's WAFERMON_CONFIG), and
 * prints one JSON line per step.
 *
 * <p>Java specifics: {@code fork_child} cannot be done in a JVM and reports
 * {@code {"ok": false, "error": "NotSupported"}} (scenarios list "java" in "skip"). Metadata given
 * as {@code metadata_raw} is parsed; an object goes through the Map API, anything else (Java's
 * typed API has no way to pass a list as metadata) is handed over as JSON text through the
 * {@code *Json} methods, so the SDK itself refuses it. Job handles are not closed at the end: the
 * steps decide every event (closing an unfinished job would report it succeeded).
 */
public final class Testee {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Map<String, Job> jobs = new HashMap<>();

    private Testee() {}

    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: testee SCENARIO.json");
            System.exit(2);
        }
        JsonNode scenario = JSON.readTree(new File(args[0]));
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        new Testee().run(scenario, out);
        Wafermon.shutdown(Duration.ofSeconds(10));
        out.flush();
        System.exit(0);
    }

    void run(JsonNode scenario, PrintStream out) throws Exception {
        JsonNode steps = scenario.get("steps");
        for (int i = 0; i < steps.size(); i++) {
            ObjectNode result = JSON.createObjectNode();
            result.put("step", i);
            try {
                String id = step(steps.get(i));
                result.put("ok", true);
                if (id != null) {
                    result.put("id", id);
                }
            } catch (WafermonException e) {
                result.put("ok", false);
                result.put("error", e.errorName());
                result.put("message", e.getMessage());
            } catch (UnsupportedOperationException e) {
                result.put("ok", false);
                result.put("error", "NotSupported");
                result.put("message", e.getMessage());
            } catch (RuntimeException e) {
                result.put("ok", false);
                result.put("error", "TesteeError");
                result.put("message", e.toString());
            }
            out.println(JSON.writeValueAsString(result));
        }
    }

    private static String text(JsonNode step, String field) {
        JsonNode v = step.get(field);
        return v == null || v.isNull() ? null : v.asText();
    }

    private Job job(JsonNode step, String field) {
        String name = text(step, field);
        Job job = jobs.get(name);
        if (job == null) {
            throw new IllegalArgumentException("no job named " + name + " in this scenario");
        }
        return job;
    }

    /** Metadata of a step: null for none, a Map, or (for a non-object metadata_raw) JSON text. */
    private static Object metadata(JsonNode step) throws Exception {
        JsonNode md = step.get("metadata");
        if (step.has("metadata_raw")) {
            String raw = step.get("metadata_raw").asText();
            JsonNode parsed;
            try {
                parsed = JSON.readTree(raw);
            } catch (Exception notJson) {
                return raw; // not JSON at all: the SDK refuses the text
            }
            return parsed != null && parsed.isObject() ? JSON.convertValue(parsed, Map.class) : raw;
        }
        if (md == null || md.isNull()) {
            return null;
        }
        return JSON.convertValue(md, Map.class);
    }

    /** Finishes through the JSON-text form when the step's metadata is text, else the map form. */
    private static void finish(Object md, Consumer<String> asJson, Consumer<Map<String, ?>> asMapForm) {
        if (md instanceof String) {
            asJson.accept((String) md);
        } else {
            asMapForm.accept(asMap(md));
        }
    }

    @SuppressWarnings("unchecked")
    private static Map<String, ?> asMap(Object md) {
        return (Map<String, ?>) md;
    }

    private static JobBuilder withMetadata(JobBuilder b, Object md) {
        if (md instanceof String) {
            return b.metadataJson((String) md);
        }
        return b.metadata(asMap(md));
    }

    private String step(JsonNode step) throws Exception {
        String op = text(step, "op");
        Object md = metadata(step);
        switch (op) {
            case "start": {
                JobBuilder b = Wafermon.job(text(step, "business_key"));
                if (text(step, "site_id") != null) {
                    b.site(text(step, "site_id"));
                }
                Job job = withMetadata(b, md).start();
                jobs.put(text(step, "as"), job);
                return job.id();
            }
            case "subjob": {
                Job job = withMetadata(job(step, "parent").subjob(text(step, "sub_key")), md).start();
                jobs.put(text(step, "as"), job);
                return job.id();
            }
            case "progress": {
                JsonNode f = step.get("fraction");
                double fraction = f == null || f.isNull() ? Double.NaN : f.asDouble();
                Job job = job(step, "job");
                if (md instanceof String) {
                    job.progressJson(fraction, (String) md);
                } else {
                    job.progress(fraction, asMap(md));
                }
                return null;
            }
            case "heartbeat":
                job(step, "job").heartbeat();
                return null;
            case "succeed": {
                Job job = job(step, "job");
                finish(md, job::succeedJson, job::succeed);
                return null;
            }
            case "cancel": {
                Job job = job(step, "job");
                finish(md, job::cancelJson, job::cancel);
                return null;
            }
            case "fail": {
                String type = text(step, "error_type");
                String message = text(step, "error_message");
                if (md instanceof String) {
                    job(step, "job").failJson(type, message, (String) md);
                } else {
                    job(step, "job").fail(type, message, asMap(md));
                }
                return null;
            }
            case "flush": {
                JsonNode t = step.get("timeout");
                double seconds = t == null || t.isNull() ? 10.0 : t.asDouble();
                Wafermon.client().flush(seconds);
                return null;
            }
            case "sleep":
                Thread.sleep((long) (step.get("seconds").asDouble() * 1000));
                return null;
            case "fork_child":
                throw new UnsupportedOperationException("a JVM cannot fork(); list java in skip");
            default:
                throw new IllegalArgumentException("unknown op " + op);
        }
    }
}
