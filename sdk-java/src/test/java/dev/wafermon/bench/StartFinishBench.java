package dev.wafermon.bench;

import dev.wafermon.Client;
import dev.wafermon.Job;
import dev.wafermon.Stat;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Start+finish cost of one job from Java: {@code try (Job job = client.job(key).start()) {}} —
 * the "started" event, then close() finishing it succeeded ("finished" event) and freeing the
 * handle. Mode direct, the filesystem backend into a temporary directory (fsync off), a queue
 * large enough that the caller never spools itself: this measures the caller's cost, which is
 * what an application pays. Run with bench/java_start_finish.sh [JOBS_PER_ROUND] [ROUNDS].
 */
public final class StartFinishBench {
    private StartFinishBench() {}

    public static void main(String[] args) throws Exception {
        int perRound = args.length > 0 ? Integer.parseInt(args[0]) : 100_000;
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 7;
        Path dir = Files.createTempDirectory("wafermon-java-bench");
        try {
            Map<String, Object> config = Map.of(
                    "mode", "direct",
                    "direct_backends", List.of(Map.of("type", "filesystem",
                            "path", dir.resolve("events").toString(), "fsync", false)),
                    "spool", Map.of("path", dir.resolve("spool").toString()),
                    "queue", Map.of("size", 4 * perRound + 1000));
            double[] nsPerOp = new double[rounds];
            try (Client client = Client.open(config)) {
                // Warm-up: JIT-compile the path (3 rounds' worth), then drain.
                run(client, perRound * 3);
                client.flush(Duration.ofSeconds(120));
                for (int r = 0; r < rounds; r++) {
                    long t0 = System.nanoTime();
                    run(client, perRound);
                    long t1 = System.nanoTime();
                    nsPerOp[r] = (t1 - t0) / (double) perRound;
                    client.flush(Duration.ofSeconds(120)); // outside the timing
                }
                long dropped = client.stat(Stat.DROPPED);
                long emitted = client.stat(Stat.EMITTED);
                long delivered = client.stat(Stat.DELIVERED);
                double[] sorted = nsPerOp.clone();
                Arrays.sort(sorted);
                System.out.printf("java start+finish: %.0f ns/op (median of %d rounds x %d jobs; "
                        + "min %.0f, max %.0f; direct filesystem, fsync off)%n",
                        sorted[rounds / 2], rounds, perRound, sorted[0], sorted[rounds - 1]);
                System.out.printf("events emitted %d, delivered %d, dropped %d%n", emitted,
                        delivered, dropped);
            }
        } finally {
            try (Stream<Path> s = Files.walk(dir)) {
                s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    @SuppressWarnings("try") // the job is only opened and closed: that is what is measured
    private static void run(Client client, int n) {
        for (int i = 0; i < n; i++) {
            try (Job job = client.job("bench").start()) {
                // nothing: start + finish only
            }
        }
    }
}
