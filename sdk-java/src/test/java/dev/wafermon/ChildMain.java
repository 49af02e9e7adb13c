package dev.wafermon;

import java.nio.file.Path;
import java.util.Map;

/** A program run in a child JVM by ProcessTest. */
public final class ChildMain {
    private ChildMain() {}

    public static void main(String[] args) throws Exception {
        switch (args[0]) {
            case "version":
                System.out.println(Wafermon.nativeVersion() + " " + NativeLibrary.source());
                break;
            case "exit-without-close": {
                // Opens a client, reports a job and returns from main without flush or close:
                // the core's exit handler must deliver what is queued.
                Client client = Client.open(Fixtures.directConfig(Path.of(args[1])));
                try (Job job = client.job("exit").start()) {
                    job.progress(0.5, Map.of("from", "child"));
                }
                System.out.println("done");
                break;
            }
            case "leak-job": {
                // A job handle dropped without close: the Cleaner destroys it, the core reports
                // it cancelled ("handle destroyed while running").
                Client client = Client.open(Fixtures.directConfig(Path.of(args[1])));
                leak(client);
                for (int i = 0; i < 50; i++) {
                    System.gc();
                    Thread.sleep(20);
                }
                client.close();
                System.out.println("done");
                break;
            }
            case "exit-hung-sidecar": {
                // 20 jobs to a sidecar that never answers, then return from main: the core's exit
                // handler must end within exit_flush_timeout and leave everything on the spool.
                Client client = Client.open(hungSidecarConfig(args[1], Path.of(args[2])));
                for (int i = 0; i < 20; i++) {
                    try (Job job = client.job("hung-" + i).start()) {
                        Thread.sleep(2); // several batches: one in flight, more queued
                    }
                }
                System.out.println("done");
                break;
            }
            default:
                throw new IllegalArgumentException(args[0]);
        }
    }

    /** A sidecar at url with a 30 s request timeout, a 0.5 s exit bound, the spool in dir/spool. */
    static Map<String, Object> hungSidecarConfig(String url, Path dir) {
        Map<String, Object> config = new java.util.LinkedHashMap<>();
        config.put("sidecar", Map.of("url", url, "timeout", 30, "retries", 3));
        config.put("spool", Map.of("path", dir.resolve("spool").toString()));
        config.put("exit_flush_timeout", 0.5);
        config.put("flush_interval", 0.01);
        config.put("log_level", "off");
        return config;
    }

    private static void leak(Client client) {
        client.job("leaked").start().heartbeat();
    }
}
