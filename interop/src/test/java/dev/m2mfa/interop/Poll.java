package dev.m2mfa.interop;

import java.time.Duration;
import java.util.function.BooleanSupplier;

/** Waits for a condition by polling, with a deadline; fails the test when the deadline passes. */
final class Poll {
  private Poll() {}

  static void until(BooleanSupplier condition, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) throw new AssertionError("condition not met within " + timeout);
      Thread.sleep(5);
    }
  }
}
