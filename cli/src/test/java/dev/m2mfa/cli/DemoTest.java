package dev.m2mfa.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import org.junit.jupiter.api.Test;

/** The main job, as `./m2mfa demo --json` runs it: every scene ok, revocation measured. */
class DemoTest {
  @Test
  void everySceneIsOkAndTheJsonSaysSo() throws Exception {
    ByteArrayOutputStream narrative = new ByteArrayOutputStream();
    Demo demo = new Demo(new PrintStream(narrative, true));
    boolean ok = demo.run();
    JsonNode json = new ObjectMapper().readTree(demo.json());
    assertThat(json.path("scenes").size()).isGreaterThanOrEqualTo(7);
    assertThat(json.path("scenes").toString()).contains("otp-chain");
    for (JsonNode s : json.path("scenes")) {
      assertThat(s.path("ok").asBoolean()).as(s.path("name").asText() + ": " + s.path("observed").asText()).isTrue();
      assertThat(s.path("expected").asText()).isNotBlank();
    }
    assertThat(ok).isTrue();
    assertThat(json.path("revocation_propagation_ms").asLong()).isBetween(0L, 1000L);
    assertThat(narrative.toString()).contains("summary");
  }

  @Test
  void helpListsEveryCommandAndExitCodes() {
    PrintStream old = System.out;
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    System.setOut(new PrintStream(out, true));
    try {
      assertThat(Main.execute("--help")).isZero();
    } finally {
      System.setOut(old);
    }
    assertThat(out.toString()).contains("demo", "authority", "admin", "agent", "Exit codes");
  }

  @Test
  void usageErrorsExitWithTwo() {
    PrintStream old = System.err;
    System.setErr(new PrintStream(new ByteArrayOutputStream(), true));
    try {
      assertThat(Main.execute("no-such-command")).isEqualTo(2);
      assertThat(Main.execute("authority", "init")).isEqualTo(2);
    } finally {
      System.setErr(old);
    }
  }
}
