package dev.m2mfa.authority.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The contract every {@link Store} backend passes. A backend's test extends this and opens a fresh store. */
public abstract class StoreContract {
  protected Store store;

  protected abstract Store openFresh() throws Exception;

  /** Closes and reopens the same database (to check durability across restarts). */
  protected abstract Store reopen() throws Exception;

  @BeforeEach
  void open() throws Exception {
    store = openFresh();
  }

  @AfterEach
  void close() {
    store.close();
  }

  static MachineRecord machine(String name) {
    return new MachineRecord(name, "spiffe://t/machine/" + name, "default", "AAAA", "jkt-" + name, "10.0.0.0/8",
        MachineRecord.ACTIVE, 1, 1);
  }

  @Test
  void factorStateIsPerMachineAndFactorAndReplaces() {
    var states = store.factorStates();
    assertThat(states.get("m1", "otp-chain")).isEmpty();
    states.put("m1", "otp-chain", "{\"v\":1}", 1);
    states.put("m1", "hardware", "{\"h\":1}", 1);
    states.put("m1", "otp-chain", "{\"v\":2}", 2);
    assertThat(states.get("m1", "otp-chain")).contains("{\"v\":2}");
    assertThat(states.get("m1", "hardware")).contains("{\"h\":1}");
    assertThat(states.get("m2", "otp-chain")).isEmpty();
    states.delete("m1", "otp-chain");
    assertThat(states.get("m1", "otp-chain")).isEmpty();
    assertThat(states.get("m1", "hardware")).isPresent();
  }

  @Test
  void factorStateRollsBackWithItsTransaction() {
    try {
      store.transaction(() -> {
        store.factorStates().put("m1", "otp-chain", "x", 1);
        throw new IllegalStateException("abort");
      });
    } catch (IllegalStateException expected) {
      // rolled back
    }
    assertThat(store.factorStates().get("m1", "otp-chain")).isEmpty();
  }

  @Test
  void machinesRoundTripAndRefuseDuplicates() {
    store.machines().insert(machine("m1"));
    assertThat(store.machines().find("m1")).contains(machine("m1"));
    assertThat(store.machines().find("nope")).isEmpty();
    assertThatThrownBy(() -> store.machines().insert(machine("m1"))).isInstanceOf(Store.DuplicateException.class);
    assertThat(store.machines().count()).isEqualTo(1);
  }

  @Test
  void machinesListPagesInNameOrder() {
    for (String n : List.of("c", "a", "d", "b")) store.machines().insert(machine(n));
    assertThat(store.machines().list(null, 2)).extracting(MachineRecord::name).containsExactly("a", "b");
    assertThat(store.machines().list("b", 10)).extracting(MachineRecord::name).containsExactly("c", "d");
  }

  @Test
  void statusChangesAreStored() {
    store.machines().insert(machine("m1"));
    assertThat(store.machines().setStatus("m1", MachineRecord.REVOKED, 5)).isTrue();
    assertThat(store.machines().find("m1").orElseThrow().status()).isEqualTo(MachineRecord.REVOKED);
    assertThat(store.machines().setStatus("missing", MachineRecord.REVOKED, 5)).isFalse();
  }

  @Test
  void joinTokenIsConsumedExactlyOnceAndNotAfterExpiry() {
    store.joinTokens().insert(new JoinTokenRecord("h1", "m1", "default", "", 1_000, 0, null));
    store.joinTokens().insert(new JoinTokenRecord("h2", "m2", "default", "", 1_000, 0, null));
    assertThat(store.joinTokens().consume("h1", 500)).isPresent();
    assertThat(store.joinTokens().consume("h1", 501)).isEmpty();
    assertThat(store.joinTokens().consume("h2", 1_000)).isEmpty();
    assertThat(store.joinTokens().consume("unknown", 1)).isEmpty();
  }

  @Test
  void concurrentConsumersOfOneTokenHaveOneWinner() throws Exception {
    store.joinTokens().insert(new JoinTokenRecord("race", "m", "default", "", Long.MAX_VALUE, 0, null));
    AtomicInteger wins = new AtomicInteger();
    CountDownLatch go = new CountDownLatch(1);
    List<Thread> threads = new ArrayList<>();
    for (int i = 0; i < 16; i++) {
      threads.add(Thread.ofVirtual().start(() -> {
        try {
          go.await();
        } catch (InterruptedException e) {
          return;
        }
        if (store.joinTokens().consume("race", 1).isPresent()) wins.incrementAndGet();
      }));
    }
    go.countDown();
    for (Thread t : threads) t.join();
    assertThat(wins.get()).isEqualTo(1);
  }

  @Test
  void transactionRollsBackEverythingOnFailure() {
    assertThatThrownBy(() -> store.transaction(() -> {
      store.machines().insert(machine("tx"));
      store.revocations().append("revoke", "spiffe://t/machine/tx", "r", 1);
      throw new IllegalStateException("boom");
    })).hasMessage("boom");
    assertThat(store.machines().find("tx")).isEmpty();
    assertThat(store.revocations().latestSeq()).isZero();
  }

  @Test
  void revocationSequenceIsDenseAndSurvivesReopen() throws Exception {
    ConcurrentLinkedQueue<Long> seqs = new ConcurrentLinkedQueue<>();
    List<Thread> threads = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      int n = i;
      threads.add(Thread.ofVirtual().start(() -> seqs.add(store.revocations().append("revoke", "s" + n, "", n).seq())));
    }
    for (Thread t : threads) t.join();
    assertThat(seqs).containsExactlyInAnyOrder(1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L);
    store.close();
    store = reopen();
    assertThat(store.revocations().latestSeq()).isEqualTo(8);
    assertThat(store.revocations().after(6, 10)).extracting(RevocationRecord::seq).containsExactly(7L, 8L);
  }

  @Test
  void auditRecordsScanInOrder() {
    List<AuditRecord> batch = new ArrayList<>();
    for (long i = 1; i <= 2500; i++) batch.add(new AuditRecord(i, i, "e", "s", "{}", "p" + (i - 1), "p" + i));
    store.audit().appendAll(batch);
    List<Long> seen = new ArrayList<>();
    store.audit().scan(1, r -> seen.add(r.seq()));
    assertThat(seen).hasSize(2500).isSorted();
    assertThat(store.audit().last().orElseThrow().seq()).isEqualTo(2500);
  }

  @Test
  void signingKeysRetireAndDelete() {
    store.signingKeys().insert(new SigningKeyRecord("k1", "{}", "enc", 1, null, null));
    store.signingKeys().retire("k1", 2, 3);
    assertThat(store.signingKeys().all()).singleElement().satisfies(k -> {
      assertThat(k.retiredAt()).isEqualTo(2L);
      assertThat(k.publishUntil()).isEqualTo(3L);
    });
    store.signingKeys().delete("k1");
    assertThat(store.signingKeys().all()).isEmpty();
  }

  static SshCertificateRecord sshCert(long serial, String machine, String kind, long validBefore, long revocationSeq) {
    return new SshCertificateRecord(serial, machine, kind, "m2mfa:" + machine + ":" + serial, "SHA256:x", 0, validBefore, 1, revocationSeq);
  }

  @Test
  void sshCertificatesRefuseReusedSerials() {
    store.machines().insert(machine("m1"));
    store.sshCertificates().insert(sshCert(7, "m1", SshCertificateRecord.USER, 100, 0));
    assertThat(store.sshCertificates().exists(7)).isTrue();
    assertThat(store.sshCertificates().exists(8)).isFalse();
    assertThatThrownBy(() -> store.sshCertificates().insert(sshCert(7, "m1", SshCertificateRecord.HOST, 100, 0)))
        .isInstanceOf(Store.DuplicateException.class);
    assertThat(store.sshCertificates().forMachine("m1", 10)).singleElement().satisfies(r -> assertThat(r.kind()).isEqualTo("user"));
  }

  @Test
  void sshCertificatesAreRevokedByALaterRevokeEventEvenAfterReinstate() {
    store.machines().insert(machine("m1"));
    store.machines().insert(machine("m2"));
    store.sshCertificates().insert(sshCert(1, "m1", SshCertificateRecord.USER, 1_000, 0));
    store.sshCertificates().insert(sshCert(2, "m1", SshCertificateRecord.HOST, 1_000, 0));
    store.sshCertificates().insert(sshCert(3, "m1", SshCertificateRecord.USER, 50, 0));   // expires before "now"
    store.sshCertificates().insert(sshCert(4, "m2", SshCertificateRecord.USER, 1_000, 0)); // another machine
    assertThat(store.sshCertificates().revokedUnexpired(100)).isEmpty();

    long seq = store.revocations().append("revoke", "spiffe://t/machine/m1", "r", 10).seq();
    assertThat(store.sshCertificates().revokedUnexpired(100)).extracting(SshCertificateRecord::serial).containsExactly(1L, 2L);

    store.revocations().append("reinstate", "spiffe://t/machine/m1", "r", 11);
    long afterReinstate = store.revocations().latestSeq();
    store.sshCertificates().insert(sshCert(5, "m1", SshCertificateRecord.USER, 1_000, afterReinstate));
    // the certificates from before the revocation stay revoked; the new one is not
    assertThat(store.sshCertificates().revokedUnexpired(100)).extracting(SshCertificateRecord::serial).containsExactly(1L, 2L);
    assertThat(seq).isLessThan(afterReinstate);
    // and they leave the list once expired
    assertThat(store.sshCertificates().revokedUnexpired(1_000)).isEmpty();
  }
}
