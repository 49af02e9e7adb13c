package dev.wafermon;

import static dev.wafermon.Fixtures.events;
import static dev.wafermon.Fixtures.expect;
import static dev.wafermon.Fixtures.of;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** Every API path, end to end through the direct filesystem backend, read back from JSONL. */
class JobApiTest extends DirectClientTest {
    private List<JsonNode> delivered() throws Exception {
        client.flush(Duration.ofSeconds(10));
        return events(dir);
    }

    private static List<String> kinds(List<JsonNode> es) {
        return es.stream().map(e -> e.get("event_kind").asText() + ":" + e.get("status").asText())
                .collect(Collectors.toList());
    }

    @Test
    void simpleJobLifecycle() throws Exception {
        String id;
        try (Job job = client.job("batch-1").site("fab1").metadata(Map.of("recipe", "etch-7"))
                .start()) {
            id = job.id();
            assertEquals(id, job.id());
            assertFalse(job.isFinished());
            job.progress(0.5);
            job.progress(Double.NaN, Map.of("step", "etch"));
            job.heartbeat();
        }
        List<JsonNode> es = of(delivered(), id);
        assertEquals(List.of("started:running", "progress:running", "progress:running",
                "heartbeat:running", "finished:succeeded"), kinds(es));
        for (int i = 0; i < es.size(); i++) {
            JsonNode e = es.get(i);
            assertEquals(i, e.get("seq").asInt());
            assertEquals("job", e.get("entity_type").asText());
            assertTrue(e.get("parent_id").isNull());
            assertEquals("batch-1", e.get("business_key").asText());
            assertEquals("fab1", e.get("site_id").asText());
            assertEquals("java-tests", e.get("app").get("name").asText());
            assertEquals("1.2.3", e.get("app").get("version").asText());
        }
        assertEquals("etch-7", es.get(0).get("metadata").get("recipe").asText());
        assertEquals(0.5, es.get(1).get("progress").asDouble());
        assertTrue(!es.get(2).has("progress") || es.get(2).get("progress").isNull());
        assertEquals("etch", es.get(2).get("metadata").get("step").asText());
    }

    @Test
    void monitorDeclarationTravelsInTheStartedEvent() throws Exception {
        Map<String, Object> monitor = Map.of("schedule", "0 2 * * *", "tz", "Europe/Berlin",
                "max_runtime_s", 3600);
        try (Job job = client.job("nightly-backup").metadata(Map.of("recipe", "r7")).monitor(monitor)
                .start()) {
            job.heartbeat();
        }
        try (Job job = client.job("plain").metadataJson("{ }").monitor(Map.of("interval_s", 60))
                .start()) {
            job.heartbeat();
        }
        List<JsonNode> started = delivered().stream()
                .filter(e -> e.get("event_kind").asText().equals("started")).collect(Collectors.toList());
        JsonNode first = started.get(0).get("metadata");
        assertEquals("r7", first.get("recipe").asText());
        JsonNode declared = first.get("wafermon.monitor");
        assertEquals("0 2 * * *", declared.get("schedule").asText());
        assertEquals("Europe/Berlin", declared.get("tz").asText());
        assertEquals(3600, declared.get("max_runtime_s").asInt());
        assertEquals(60, started.get(1).get("metadata").get("wafermon.monitor").get("interval_s").asInt());
    }

    @Test
    void defaultSiteAndNoKey() throws Exception {
        String id;
        try (Job job = client.job(null).start()) {
            id = job.id();
        }
        JsonNode started = of(delivered(), id).get(0);
        assertEquals("site-default", started.get("site_id").asText());
        assertTrue(!started.has("business_key") || started.get("business_key").isNull());
    }

    @Test
    void nestedSubjobsThreeDeep() throws Exception {
        String j, w, s, d;
        try (Job job = client.job("batch-9").site("fab2").start()) {
            j = job.id();
            try (Job wafer = job.subjob("wafer-1").metadata(Map.of("slot", 3)).start()) {
                w = wafer.id();
                try (Job step = wafer.subjob("etch").start()) {
                    s = step.id();
                    try (Job die = step.subjob("die-4").start()) {
                        d = die.id();
                        die.progress(1.0);
                    }
                }
            }
        }
        List<JsonNode> all = delivered();
        assertEquals(4 + 4 + 1, all.size());
        String[][] chain = {{w, j, "wafer-1"}, {s, w, "etch"}, {d, s, "die-4"}};
        for (String[] c : chain) {
            List<JsonNode> es = of(all, c[0]);
            assertEquals("started:running", kinds(es).get(0));
            assertEquals("finished:succeeded", kinds(es).get(es.size() - 1));
            for (JsonNode e : es) {
                assertEquals("subjob", e.get("entity_type").asText());
                assertEquals(c[1], e.get("parent_id").asText());
                assertEquals(c[2], e.get("sub_key").asText());
                assertEquals("batch-9", e.get("business_key").asText());
                assertEquals("fab2", e.get("site_id").asText());
            }
        }
        assertEquals(3, of(all, w).get(0).get("metadata").get("slot").asInt());
    }

    @Test
    void failWithThrowableCancelAndExplicitSucceed() throws Exception {
        String a, b, c, d;
        try (Job job = client.job("a").start()) {
            a = job.id();
            job.fail(new IllegalStateException("pump 3 stalled"));
        }
        try (Job job = client.job("b").start()) {
            b = job.id();
            job.cancel(Map.of("by", "operator"));
        }
        try (Job job = client.job("c").start()) {
            c = job.id();
            job.succeed(Map.of("wafers", 25));
            assertTrue(job.isFinished());
        }
        try (Job job = client.job("d").start()) {
            d = job.id();
            job.fail("RecipeError", "step 4 out of range", Map.of("step", 4));
        }
        List<JsonNode> all = delivered();
        JsonNode fa = of(all, a).get(1);
        assertEquals("failed", fa.get("status").asText());
        assertEquals("java.lang.IllegalStateException", fa.get("error").get("type").asText());
        assertEquals("pump 3 stalled", fa.get("error").get("message").asText());
        JsonNode fb = of(all, b).get(1);
        assertEquals("cancelled", fb.get("status").asText());
        assertEquals("operator", fb.get("metadata").get("by").asText());
        JsonNode fc = of(all, c).get(1);
        assertEquals("succeeded", fc.get("status").asText());
        assertEquals(25, fc.get("metadata").get("wafers").asInt());
        JsonNode fd = of(all, d).get(1);
        assertEquals("RecipeError", fd.get("error").get("type").asText());
        assertEquals(4, fd.get("metadata").get("step").asInt());
        for (String id : List.of(a, b, c, d)) {
            assertEquals(2, of(all, id).size(), "close() after a finish emits nothing more");
        }
    }

    @Test
    void failWithNullMessage() throws Exception {
        String id;
        try (Job job = client.job("n").start()) {
            id = job.id();
            job.fail(new NullPointerException());
        }
        JsonNode f = of(delivered(), id).get(1);
        assertEquals("java.lang.NullPointerException", f.get("error").get("type").asText());
        assertEquals("", f.get("error").get("message").asText());
    }

    @Test
    void builderRunMarksFailureAndRethrowsTheSameException() throws Exception {
        String[] ids = new String[3];
        IllegalArgumentException boom = new IllegalArgumentException("bad wafer");
        IllegalArgumentException thrown = assertThrows(IllegalArgumentException.class,
                () -> client.job("r1").run(job -> {
                    ids[0] = job.id();
                    throw boom;
                }));
        assertSame(boom, thrown);
        client.job("r2").run(job -> ids[1] = job.id());
        int value = client.job("r3").call(job -> {
            ids[2] = job.id();
            return 42;
        });
        assertEquals(42, value);
        List<JsonNode> all = delivered();
        JsonNode f0 = of(all, ids[0]).get(1);
        assertEquals("failed", f0.get("status").asText());
        assertEquals("java.lang.IllegalArgumentException", f0.get("error").get("type").asText());
        assertEquals("bad wafer", f0.get("error").get("message").asText());
        assertEquals("succeeded", of(all, ids[1]).get(1).get("status").asText());
        assertEquals("succeeded", of(all, ids[2]).get(1).get("status").asText());
    }

    /** A checked exception passes through run() with its own type (no wrapping). */
    static final class RecipeException extends Exception {
        private static final long serialVersionUID = 1L;

        RecipeException(String m) {
            super(m);
        }
    }

    private static void process(Job wafer, boolean bad) throws RecipeException {
        if (bad) {
            throw new RecipeException("no recipe for wafer");
        }
        wafer.progress(1.0);
    }

    @Test
    void jobRunInsideTryWithResourcesAndCheckedExceptions() throws Exception {
        String ok;
        try (Job wafer = client.job("w-ok").start()) {
            ok = wafer.id();
            wafer.run(() -> process(wafer, false));
        }
        Job[] holder = new Job[1];
        RecipeException e = assertThrows(RecipeException.class, () -> {
            try (Job wafer = client.job("w-bad").start()) {
                holder[0] = wafer;
                wafer.run(() -> process(wafer, true));
            }
        });
        assertEquals("no recipe for wafer", e.getMessage());
        assertTrue(holder[0].isClosed());
        List<JsonNode> all = delivered();
        assertEquals(List.of("started:running", "progress:running", "finished:succeeded"),
                kinds(of(all, ok)));
        JsonNode failed = all.stream().filter(x -> "w-bad".equals(x.path("business_key").asText())
                && x.get("event_kind").asText().equals("finished")).findFirst().orElseThrow();
        assertEquals("failed", failed.get("status").asText());
        assertEquals(RecipeException.class.getName(), failed.get("error").get("type").asText());
        try (Job job = client.job("w-call").start()) {
            assertEquals("x", job.call(() -> "x"));
        }
    }

    @Test
    void runDoesNotOverrideAnOutcomeTheBodySet() throws Exception {
        String[] id = new String[1];
        RuntimeException e = assertThrows(RuntimeException.class, () -> client.job("c").run(job -> {
            id[0] = job.id();
            job.cancel();
            throw new RuntimeException("after cancel");
        }));
        assertEquals(0, e.getSuppressed().length, "no failed attempt to finish twice");
        List<JsonNode> es = of(delivered(), id[0]);
        assertEquals(List.of("started:running", "finished:cancelled"), kinds(es));
    }

    @Test
    void closeIsIdempotentAndAClosedHandleThrows() {
        Job job = client.job("x").start();
        job.close();
        job.close();
        assertTrue(job.isClosed());
        List<Runnable> calls = List.of(job::id, () -> job.progress(0.1), job::heartbeat,
                job::succeed, job::cancel, () -> job.fail("T", "m"), () -> job.trace("a", "b"),
                () -> job.metric(Metric.DURATION_S, 1), () -> job.subjob("s").start(),
                job::isFinished, () -> job.progressJson(0.2, "{}"));
        for (Runnable call : calls) {
            ClosedException e = expect(ClosedException.class, call);
            assertEquals("ClosedError", e.errorName());
            assertEquals("WM_E_CLOSED", e.statusName());
            assertEquals(7, e.code());
        }
    }

    @Test
    void emitsAfterFinishThrowStateException() {
        try (Job job = client.job("s").start()) {
            job.succeed();
            StateException e = expect(StateException.class, () -> job.progress(0.5));
            assertEquals("StateError", e.errorName());
            assertTrue(e.getMessage().contains("already finished"), e.getMessage());
            expect(StateException.class, job::heartbeat);
            expect(StateException.class, job::succeed);
            expect(StateException.class, () -> job.fail(new RuntimeException()));
            expect(StateException.class, job::cancel);
        }
    }

    @Test
    void closedClientMakesJobsThrowAndJobCloseStillFrees() {
        Client other = Fixtures.direct(dir.resolve("other"));
        Job running = other.job("r").start();
        Job done = other.job("d").start();
        done.succeed();
        assertTrue(other.close(Duration.ofSeconds(5)));
        assertTrue(other.isClosed());
        assertFalse(other.close(Duration.ofSeconds(1)), "second close is a no-op");
        other.close();
        expect(ClosedException.class, () -> running.progress(0.5));
        expect(ClosedException.class, () -> other.job("n").start());
        expect(ClosedException.class, () -> other.flush(Duration.ofSeconds(1)));
        assertEquals(0, other.stat(Stat.EMITTED));
        ClosedException e = expect(ClosedException.class, running::close);
        assertTrue(e.getMessage().contains("client was closed"), e.getMessage());
        assertTrue(running.isClosed());
        running.close();
        done.close(); // finished before: nothing to report, no error
    }

    @Test
    void traceAndMetricOverride() throws Exception {
        String id;
        String trace = "4bf92f3577b34da6a3ce929d0e0e4736";
        String span = "00f067aa0ba902b7";
        try (Job job = client.job("t").start()) {
            id = job.id();
            job.trace(trace, span);
            job.metric(Metric.DURATION_S, 42.5);
            job.metric(Metric.MEM_MAX_MB, 7);
            job.heartbeat();
        }
        List<JsonNode> es = of(delivered(), id);
        JsonNode fin = es.get(es.size() - 1);
        assertEquals(trace, fin.get("trace").get("trace_id").asText());
        assertEquals(span, fin.get("trace").get("span_id").asText());
        assertEquals(42.5, fin.get("metrics").get("duration_s").asDouble());
        assertEquals(7.0, fin.get("metrics").get("mem_max_mb").asDouble());
    }

    @Test
    void statsCountEmittedAndDelivered() throws Exception {
        assertEquals(0, client.stat(Stat.EMITTED));
        for (int i = 0; i < 10; i++) {
            try (Job job = client.job("s" + i).start()) {
                job.progress(0.5);
            }
        }
        client.flush(Duration.ofSeconds(10));
        Map<Stat, Long> stats = client.stats();
        assertEquals(30L, stats.get(Stat.EMITTED));
        assertEquals(30L, stats.get(Stat.DELIVERED));
        assertEquals(0L, stats.get(Stat.DROPPED));
        assertEquals(0L, stats.get(Stat.QUEUE_DEPTH));
        assertEquals(30, events(dir).size());
        for (Stat s : Stat.values()) {
            assertEquals(NativeLibrary.statName(s.ordinal()), s.cName(), "Stat order matches C");
        }
        assertEquals(null, NativeLibrary.statName(Stat.values().length));
    }

    @Test
    void metadataRoundTripsExactly() throws Exception {
        Map<String, Object> md = new java.util.LinkedHashMap<>();
        md.put("unicode", "Wafer \u00e9\u00e8 \u4e2d\u6587 \ud83d\ude80 \u2028");
        md.put("escapes", "quote \" backslash \\ slash / nl \n tab \t cr \r bell \u0007 del \u007f");
        md.put("long", Long.MAX_VALUE);
        md.put("negative", -17);
        md.put("double", 0.1);
        md.put("tiny", 1.0e-300);
        md.put("float", 2.5f);
        md.put("big", new java.math.BigDecimal("12345678901234567890.125"));
        md.put("bigint", new java.math.BigInteger("-9223372036854775808"));
        md.put("flag", true);
        md.put("none", null);
        md.put("list", List.of(1, "two", List.of(3.5)));
        md.put("ints", new int[] {1, 2, 3});
        md.put("strings", new String[] {"a", "b"});
        md.put("char", 'x');
        md.put("nested", Map.of("deeper", Map.of("deepest", "yes")));
        md.put("empty", Map.of());
        md.put("large", "x".repeat(40000));
        String id;
        try (Job job = client.job("m").metadata(md).start()) {
            id = job.id();
        }
        JsonNode got = of(delivered(), id).get(0).get("metadata");
        JsonNode want = Fixtures.JSON.readTree(Json.objectText(Json.Kind.METADATA, md));
        assertEquals(want, got);
        assertEquals(md.get("unicode"), got.get("unicode").asText());
        assertEquals(md.get("escapes"), got.get("escapes").asText());
        assertEquals(Long.MAX_VALUE, got.get("long").asLong());
        assertEquals(0.1, got.get("double").asDouble());
        assertEquals(40000, got.get("large").asText().length());
        assertEquals(Long.MIN_VALUE, got.get("bigint").asLong());
        assertTrue(got.get("none").isNull());
        assertEquals(3, got.get("ints").size());
    }

    @Test
    void metadataJsonIsPassedThrough() throws Exception {
        String id;
        try (Job job = client.job("mj").metadataJson("{\"a\": [1, 2], \"b\": {\"c\": null}}").start()) {
            id = job.id();
            job.progressJson(0.25, "{\"p\": 1}");
            job.succeedJson("{\"done\": true}");
        }
        List<JsonNode> es = of(delivered(), id);
        assertEquals(2, es.get(0).get("metadata").get("a").get(1).asInt());
        assertEquals(1, es.get(1).get("metadata").get("p").asInt());
        assertTrue(es.get(2).get("metadata").get("done").asBoolean());
    }

    @Test
    void idsAreDistinctUuids() {
        try (Job a = client.job("a").start(); Job b = client.job("b").start()) {
            assertNotEquals(a.id(), b.id());
            assertEquals(36, a.id().length());
            assertSame(client, a.client());
        }
    }

    @Test
    void manyThreadsShareOneClient() throws Exception {
        int threads = 8, jobs = 50;
        Thread[] ts = new Thread[threads];
        for (int t = 0; t < threads; t++) {
            ts[t] = new Thread(() -> {
                for (int i = 0; i < jobs; i++) {
                    try (Job job = client.job("mt").start()) {
                        job.heartbeat();
                    }
                }
            });
            ts[t].start();
        }
        for (Thread t : ts) {
            t.join();
        }
        assertEquals(threads * jobs * 3, delivered().size());
    }

    @Test
    void closingTheClientWhileOtherThreadsReportIsSafe() throws Exception {
        Client other = Fixtures.direct(dir.resolve("race"));
        java.util.concurrent.atomic.AtomicInteger closedErrors = new java.util.concurrent.atomic.AtomicInteger();
        java.util.concurrent.atomic.AtomicReference<Throwable> unexpected = new java.util.concurrent.atomic.AtomicReference<>();
        java.util.concurrent.CountDownLatch started = new java.util.concurrent.CountDownLatch(4);
        Thread[] ts = new Thread[4];
        for (int t = 0; t < ts.length; t++) {
            ts[t] = new Thread(() -> {
                started.countDown();
                for (int i = 0; i < 100000; i++) {
                    try (Job job = other.job("race").start()) {
                        job.progress(0.5);
                    } catch (ClosedException e) {
                        closedErrors.incrementAndGet();
                        return;
                    } catch (Throwable e) {
                        unexpected.set(e);
                        return;
                    }
                }
            });
            ts[t].start();
        }
        started.await();
        Thread.sleep(50);
        other.close();
        for (Thread t : ts) {
            t.join();
        }
        assertEquals(null, unexpected.get());
        assertEquals(4, closedErrors.get(), "every thread saw ClosedException");
        // Whatever was accepted before close was delivered or, if close's bounded flush ran out
        // of time on a loaded machine, spooled: the next client on the same spool replays it.
        try (Client next = Fixtures.direct(dir.resolve("race"))) {
            for (int i = 0; i < 200 && next.stat(Stat.SPOOL_PENDING) > 0; i++) {
                next.flush(0);
                Thread.sleep(50);
            }
            assertEquals(0, next.stat(Stat.SPOOL_PENDING), "the spool was replayed");
        }
        // Every job in the files is whole, except those whose handle close() came after the
        // client close (no finished event): at most one per thread.
        List<JsonNode> es = events(dir.resolve("race"));
        long started2 = es.stream().filter(e -> e.get("event_kind").asText().equals("started")).count();
        long finished = es.stream().filter(e -> e.get("event_kind").asText().equals("finished")).count();
        assertTrue(started2 - finished <= 4, started2 + " started, " + finished + " finished");
    }
}
