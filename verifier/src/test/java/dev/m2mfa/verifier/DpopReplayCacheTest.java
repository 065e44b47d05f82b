package dev.m2mfa.verifier;

import static org.assertj.core.api.Assertions.assertThat;

import dev.m2mfa.verifier.DpopReplayCache.Result;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

class DpopReplayCacheTest {

    static final long T = 1_000_000_000_000L;

    @Test
    void remembersAJtiUntilItExpires() {
        DpopReplayCache c = new DpopReplayCache(10);
        assertThat(c.remember("jkt", "a", T + 60_000, T)).isEqualTo(Result.FRESH);
        assertThat(c.remember("jkt", "a", T + 60_000, T + 1)).isEqualTo(Result.REPLAYED);
        assertThat(c.remember("jkt", "a", T + 60_000, T + 59_999)).isEqualTo(Result.REPLAYED);
        // expired: the proof would now fail its iat check anyway, so the slot may be reused
        assertThat(c.remember("jkt", "a", T + 120_000, T + 60_000)).isEqualTo(Result.FRESH);
        assertThat(c.remember("jkt", "a", T + 120_000, T + 60_001)).isEqualTo(Result.REPLAYED);
    }

    @Test
    void keepsKeysApart() {
        DpopReplayCache c = new DpopReplayCache(10);
        assertThat(c.remember("key-1", "same", T + 60_000, T)).isEqualTo(Result.FRESH);
        assertThat(c.remember("key-2", "same", T + 60_000, T)).isEqualTo(Result.FRESH);
        // no ambiguity from concatenation
        assertThat(c.remember("ab", "c", T + 60_000, T)).isEqualTo(Result.FRESH);
        assertThat(c.remember("a", "bc", T + 60_000, T)).isEqualTo(Result.FRESH);
    }

    @Test
    void refusesRatherThanForgetsWhenFullOfLiveEntriesAndSweepsExpiredOnes() {
        DpopReplayCache c = new DpopReplayCache(3);
        for (String jti : List.of("a", "b", "c")) {
            assertThat(c.remember("k", jti, T + 60_000, T)).isEqualTo(Result.FRESH);
        }
        assertThat(c.remember("k", "d", T + 60_000, T + 10)).isEqualTo(Result.FULL);
        assertThat(c.remember("k", "a", T + 60_000, T + 10)).isEqualTo(Result.REPLAYED); // still remembered
        assertThat(c.size()).isEqualTo(3);
        assertThat(c.remember("k", "d", T + 120_000, T + 60_000)).isEqualTo(Result.FRESH);
        assertThat(c.size()).isEqualTo(1);
    }

    @Test
    void sweepsExpiredEntriesAboutOnceASecond() {
        DpopReplayCache c = new DpopReplayCache(1000);
        for (int i = 0; i < 100; i++) {
            c.remember("k", "j" + i, T + 500, T);
        }
        assertThat(c.size()).isEqualTo(100);
        c.remember("k", "later", T + 60_000, T + 1_001);
        assertThat(c.size()).isEqualTo(1);
    }

    @Test
    void letsExactlyOneOfManyConcurrentUsesThrough() throws Exception {
        DpopReplayCache c = new DpopReplayCache(100_000);
        int threads = 8;
        int jtis = 2_000;
        try (ExecutorService pool = Executors.newFixedThreadPool(threads)) {
            List<Callable<Integer>> tasks = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                tasks.add(() -> {
                    int fresh = 0;
                    for (int i = 0; i < jtis; i++) {
                        if (c.remember("k", "jti-" + i, T + 60_000, T) == Result.FRESH) {
                            fresh++;
                        }
                    }
                    return fresh;
                });
            }
            int total = 0;
            for (Future<Integer> f : pool.invokeAll(tasks)) {
                total += f.get();
            }
            assertThat(total).isEqualTo(jtis);
        }
    }
}
