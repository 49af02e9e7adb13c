package dev.wafermon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpServer;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Sidecar mode against a real HTTP peer in this JVM: a receiver answering 202 on
 * POST /v1/ingest/events:batch, as the sidecar does.
 */
class HttpReceiverTest {
    @TempDir Path dir;
    HttpServer server;
    final List<JsonNode> received = Collections.synchronizedList(new ArrayList<>());
    final List<String> contentTypes = Collections.synchronizedList(new ArrayList<>());

    void startReceiver(int port) throws Exception {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 0);
        server.createContext("/v1/ingest/events:batch", ex -> {
            int code = 202;
            if (!ex.getRequestMethod().equals("POST")) {
                code = 405;
            } else {
                contentTypes.add(ex.getRequestHeaders().getFirst("Content-Type"));
                InputStream in = ex.getRequestBody();
                if ("gzip".equals(ex.getRequestHeaders().getFirst("Content-Encoding"))) {
                    in = new GZIPInputStream(in);
                }
                String body = new String(in.readAllBytes(), StandardCharsets.UTF_8);
                try {
                    for (String line : body.split("\n")) {
                        if (!line.isBlank()) {
                            JsonNode e = Fixtures.JSON.readTree(line);
                            Fixtures.validate(e);
                            received.add(e);
                        }
                    }
                } catch (Throwable t) {
                    code = 400;
                }
            }
            byte[] reply = "{\"accepted\": true}".getBytes(StandardCharsets.UTF_8);
            ex.sendResponseHeaders(code, reply.length);
            ex.getResponseBody().write(reply);
            ex.close();
        });
        server.start();
    }

    @AfterEach
    void stop() {
        if (server != null) {
            server.stop(0);
        }
    }

    Map<String, Object> sidecarConfig(int port, boolean gzip) {
        Map<String, Object> cfg = new LinkedHashMap<>();
        cfg.put("mode", "sidecar");
        cfg.put("sidecar", Map.of("url", "http://127.0.0.1:" + port, "gzip", gzip, "retries", 1,
                "timeout", 2.0));
        cfg.put("spool", Map.of("path", dir.resolve("spool").toString()));
        cfg.put("app", Map.of("name", "java-http", "version", "1"));
        cfg.put("flush_interval", 0.01);
        return cfg;
    }

    private void runJobs(Client client, int n) {
        for (int i = 0; i < n; i++) {
            try (Job job = client.job("h-" + i).site("fab1").start()) {
                job.progress(0.5, Map.of("i", i));
                try (Job wafer = job.subjob("wafer").start()) {
                    wafer.heartbeat();
                }
            }
        }
    }

    @Test
    void eventsArriveAtAnHttpReceiver() throws Exception {
        startReceiver(0);
        int port = server.getAddress().getPort();
        for (boolean gzip : new boolean[] {false, true}) {
            received.clear();
            try (Client client = Client.open(sidecarConfig(port, gzip))) {
                runJobs(client, 20);
                client.flush(Duration.ofSeconds(10));
                assertEquals(20 * 6, client.stat(Stat.DELIVERED));
            }
            assertEquals(20 * 6, received.size(), "gzip=" + gzip);
            Set<String> ids = new HashSet<>();
            for (JsonNode e : received) {
                ids.add(e.get("event_id").asText());
                assertEquals("java-http", e.get("app").get("name").asText());
            }
            assertEquals(received.size(), ids.size(), "no duplicates");
        }
        assertTrue(contentTypes.stream().allMatch("application/x-ndjson"::equals), contentTypes.toString());
    }

    @Test
    void receiverDownThenBackDeliversEverythingOnce() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        // Receiver down: the core spools.
        try (Client client = Client.open(sidecarConfig(port, false))) {
            runJobs(client, 10);
            client.flush(Duration.ofSeconds(20));
            assertEquals(60, client.stat(Stat.SPOOLED), client.stats().toString());
            assertEquals(0, client.stat(Stat.DELIVERED));
        }
        // Receiver back: the next client on the same spool replays it.
        startReceiver(port);
        try (Client client = Client.open(sidecarConfig(port, false))) {
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (received.size() < 60 && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
            client.flush(Duration.ofSeconds(10));
        }
        assertEquals(60, received.size());
        Set<String> ids = new HashSet<>();
        received.forEach(e -> ids.add(e.get("event_id").asText()));
        assertEquals(60, ids.size(), "each event once");
    }
}
