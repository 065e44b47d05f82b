package dev.m2mfa.authority.factor.otpchain;

import java.util.concurrent.ConcurrentHashMap;

/**
 * Bounds guessing: at most {@link #LIMIT} wrong secrets per machine and per source address in
 * a fixed window of {@link #WINDOW_MILLIS}; beyond that the factor fails without looking at
 * the secret. In memory (an authority restart forgets the counts, which an attacker cannot
 * cause), with at most {@link #MAX_KEYS} tracked keys.
 */
final class WrongSecretLimiter {
  static final int LIMIT = 10;
  static final long WINDOW_MILLIS = 10 * 60_000;
  static final int MAX_KEYS = 100_000;

  private record Window(long start, int count) {}

  private final ConcurrentHashMap<String, Window> windows = new ConcurrentHashMap<>();

  boolean blocked(String machine, String source, long now) {
    return over("m:" + machine, now) || over("s:" + source, now);
  }

  void wrong(String machine, String source, long now) {
    if (windows.size() >= MAX_KEYS) windows.entrySet().removeIf(e -> now - e.getValue().start() >= WINDOW_MILLIS);
    if (windows.size() >= MAX_KEYS) windows.clear(); // still full of live windows: forget rather than grow
    bump("m:" + machine, now);
    bump("s:" + source, now);
  }

  private boolean over(String key, long now) {
    Window w = windows.get(key);
    return w != null && now - w.start() < WINDOW_MILLIS && w.count() >= LIMIT;
  }

  private void bump(String key, long now) {
    windows.compute(key, (k, w) -> w == null || now - w.start() >= WINDOW_MILLIS ? new Window(now, 1) : new Window(w.start(), w.count() + 1));
  }
}
