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
            default:
                throw new IllegalArgumentException(args[0]);
        }
    }

    private static void leak(Client client) {
        client.job("leaked").start().heartbeat();
    }
}
