package dev.m2mfa.authority.factor.otpchain;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.m2mfa.authority.factor.otpchain.OtpChain.Verdict;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * Properties of the chain state machine over generated schedules of logins, crashes (before
 * persist, before acknowledgement), copies of an agent and authority restarts (the state goes
 * through its stored JSON form, as after a real restart):
 * <ul>
 *   <li>one lineage, however it crashes and restarts, is never locked;
 *   <li>a consumed or invalidated secret never passes again;
 *   <li>once a copy and its original have both completed a login after the copy was made,
 *       without crashes, the chain is locked;
 *   <li>a restart changes nothing: the restored chain answers every later presentation as
 *       the original object would.
 * </ul>
 */
class OtpChainPropertiesTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  enum Step { LOGIN, CRASH_BEFORE_PERSIST, CRASH_BEFORE_ACK, RESTART }

  record Op(int party, Step step) {}

  private long counter;

  private byte[] fresh() {
    return ByteBuffer.allocate(8).putLong(++counter).array();
  }

  /** One agent lineage: what it has persisted. */
  private static final class Party {
    byte[] secret;
    boolean completedSinceSplit;

    Party(byte[] secret) {
      this.secret = secret;
    }
  }

  private static OtpChain restart(OtpChain chain) throws Exception {
    String stored = JSON.writeValueAsString(chain.state());
    return OtpChain.restore(JSON.readValue(stored, OtpChain.State.class));
  }

  /** Runs one step; returns the verdict of the login (or null for a restart). */
  private Verdict run(OtpChain[] chain, Party p, Step step, Set<String> dead) throws Exception {
    if (step == Step.RESTART) {
      chain[0] = restart(chain[0]);
      return null;
    }
    byte[] next = fresh();
    byte[] presented = p.secret;
    Verdict v = chain[0].present(presented, next);
    if (v == Verdict.PASS) {
      assertThat(dead).as("a dead secret passed").doesNotContain(key(presented));
      if (step != Step.CRASH_BEFORE_PERSIST) {
        p.secret = next;
        if (step == Step.LOGIN) v = chain[0].acknowledge(next);
      }
    }
    return v;
  }

  private static String key(byte[] b) {
    return java.util.HexFormat.of().formatHex(b);
  }

  @Provide
  Arbitrary<List<Step>> singleLineage() {
    return Arbitraries.of(Step.values()).list().ofMinSize(1).ofMaxSize(200);
  }

  @Property(tries = 500)
  void oneLineageIsNeverLockedWhateverCrashesAndRestarts(@ForAll("singleLineage") List<Step> steps) throws Exception {
    byte[] first = fresh();
    OtpChain[] chain = {new OtpChain(first)};
    Party agent = new Party(first);
    for (Step s : steps) {
      Verdict v = run(chain, agent, s, Set.of());
      if (v != null) assertThat(v).isEqualTo(Verdict.PASS);
    }
    assertThat(chain[0].locked()).isFalse();
  }

  @Provide
  Arbitrary<List<Op>> withACopy() {
    Arbitrary<Op> op = Combinators.combine(Arbitraries.integers().between(0, 1), Arbitraries.of(Step.values())).as(Op::new);
    return op.list().ofMinSize(1).ofMaxSize(120);
  }

  @Property(tries = 1000)
  void aCopyIsLockedOnceBothCompletedALoginAndDeadSecretsNeverPass(@ForAll("withACopy") List<Op> ops,
      @ForAll("singleLineage") List<Step> history) throws Exception {
    byte[] first = fresh();
    OtpChain[] chain = {new OtpChain(first)};
    Party original = new Party(first);
    for (Step s : history) run(chain, original, s, Set.of());
    Party copy = new Party(original.secret.clone());
    Party[] parties = {original, copy};
    Set<String> dead = new HashSet<>();
    List<byte[]> issuedBefore = new ArrayList<>();
    boolean locked = false;
    for (Op op : ops) {
      Party p = parties[op.party()];
      byte[] before = p.secret;
      Verdict v = run(chain, p, op.step(), dead);
      if (v == null) continue;
      if (v == Verdict.CLONE_DETECTED || v == Verdict.LOCKED) {
        locked = true;
        break;
      }
      assertThat(v).isEqualTo(Verdict.PASS);
      if (op.step() == Step.LOGIN) p.completedSinceSplit = true;
      if (!java.util.Arrays.equals(before, p.secret)) issuedBefore.add(before);
      if (original.completedSinceSplit && copy.completedSinceSplit) {
        // both lineages have acknowledged a secret of their own: one of those acknowledgements
        // or logins must already have been refused
        throw new AssertionError("both a copy and its original completed logins and the chain is not locked");
      }
    }
    if (original.completedSinceSplit && copy.completedSinceSplit) assertThat(locked).isTrue();
    assertThat(chain[0].locked()).isEqualTo(locked);
  }

  @Property(tries = 300)
  void aRestartAnswersExactlyLikeTheChainItWasRestoredFrom(@ForAll("singleLineage") List<Step> history,
      @ForAll("withACopy") List<Op> after) throws Exception {
    byte[] first = fresh();
    OtpChain[] live = {new OtpChain(first)};
    Party agent = new Party(first);
    for (Step s : history) run(live, agent, s, Set.of());
    OtpChain[] restored = {restart(live[0])};
    Party copy = new Party(agent.secret.clone());
    Party a2 = new Party(agent.secret.clone());
    Party c2 = new Party(agent.secret.clone());
    long saved = counter;
    List<Verdict> fromLive = new ArrayList<>();
    for (Op op : after) fromLive.add(run(live, op.party() == 0 ? agent : copy, op.step() == Step.RESTART ? Step.LOGIN : op.step(), Set.of()));
    counter = saved; // the same fresh secrets again
    List<Verdict> fromRestored = new ArrayList<>();
    for (Op op : after) fromRestored.add(run(restored, op.party() == 0 ? a2 : c2, op.step() == Step.RESTART ? Step.LOGIN : op.step(), Set.of()));
    assertThat(fromRestored).isEqualTo(fromLive);
    assertThat(JSON.writeValueAsString(restored[0].state())).isEqualTo(JSON.writeValueAsString(live[0].state()));
  }
}
