package dev.m2mfa.authority.ssh;

import dev.m2mfa.api.Cidr;
import dev.m2mfa.authority.policy.Level;
import dev.m2mfa.authority.policy.MachineClass;
import dev.m2mfa.authority.policy.Policy;
import dev.m2mfa.authority.policy.SshGrant;
import dev.m2mfa.authority.store.MachineRecord;
import java.net.InetAddress;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.function.Supplier;

/**
 * The one place that decides whether a machine gets an SSH certificate and what it says:
 * principals, validity, critical options and extensions. Nothing else decides these values.
 *
 * <p>Two sources, one precedence rule: {@link #fromPolicy} takes principals, lifetimes,
 * force-command and the minimum level from the machine's class in the policy in force when
 * that class has an {@code ssh:} block, and otherwise asks {@link #fromConfig} (the
 * {@code ssh.*} options of {@code authority.conf}). The policy is read once per decision, so a
 * reload never mixes two policies in one certificate. Whatever the source, user certificates
 * carry {@code source-address} = the machine's bound CIDRs and the configured extensions;
 * host certificates carry the machine's name plus {@code ssh.host_principals.<machine>}.
 */
@FunctionalInterface
public interface SshGrantPolicy {
  /** How far certificates are backdated, for clocks that lag the authority's. */
  Duration BACKDATE = Duration.ofMinutes(1);

  enum Kind { USER, HOST }

  /**
   * What a certificate grants. Critical options and extensions are sorted by name: OpenSSH
   * requires lexical order in the certificate.
   */
  record Grant(List<String> principals, Instant validAfter, Instant validBefore,
      SortedMap<String, String> criticalOptions, SortedMap<String, String> extensions) {
    public Grant {
      if (principals.isEmpty()) throw new IllegalArgumentException("a certificate needs at least one principal");
      if (!validBefore.isAfter(validAfter)) throw new IllegalArgumentException("empty validity");
      principals = List.copyOf(principals);
      criticalOptions = java.util.Collections.unmodifiableSortedMap(new TreeMap<>(criticalOptions));
      extensions = java.util.Collections.unmodifiableSortedMap(new TreeMap<>(extensions));
    }
  }

  /**
   * @param machine the machine as stored (trusted; active, checked by the caller)
   * @param acr the {@code acr} of the verified token the request came with (empty if none)
   * @param source the address the request came from, as the authority decided it
   * @throws NotGranted when the policy refuses this machine a certificate of this kind now
   */
  Grant decide(Kind kind, MachineRecord machine, Optional<String> acr, InetAddress source, Instant now) throws NotGranted;

  /** The policy refuses the certificate; the reason is for the audit log, never for the client. */
  final class NotGranted extends Exception {
    public NotGranted(String reason) {
      super(reason, null, false, false);
    }
  }

  /**
   * The policy engine first: a machine whose class (in {@code policies.get()}, read once) has
   * an {@code ssh:} block gets its principals ({@value SshGrant#MACHINE} filled in), lifetimes
   * and force-command, and a user certificate only with a token whose {@code acr} reaches the
   * block's {@code min_level} in {@link Policy#acrOrder()} (no acr, or one outside the order,
   * does not). Any other machine: {@code fallback}'s decision ({@link #fromConfig}).
   */
  static SshGrantPolicy fromPolicy(Supplier<Policy> policies, SshConfig fallback) {
    SshGrantPolicy configured = fromConfig(fallback);
    return (kind, machine, acr, source, now) -> {
      Policy policy = policies.get();
      Optional<SshGrant> block = policy.machineClass(machine.policyClass()).flatMap(MachineClass::ssh);
      if (block.isEmpty()) return configured.decide(kind, machine, acr, source, now);
      SshGrant ssh = block.get();
      Instant after = now.minus(BACKDATE);
      if (kind == Kind.HOST) {
        return new Grant(hostPrincipals(fallback, machine), after, now.plus(ssh.hostCertificateLifetime()), new TreeMap<>(),
            new TreeMap<>());
      }
      if (ssh.minLevel().isPresent()) {
        String needed = Level.ACR_PREFIX + ssh.minLevel().get();
        int neededRank = policy.acrOrder().indexOf(needed);
        int rank = acr.map(policy.acrOrder()::indexOf).orElse(-1);
        if (neededRank < 0 || rank < neededRank) {
          throw new NotGranted("token acr " + acr.orElse("(none)") + " is below " + needed + ", the ssh min_level of class "
              + machine.policyClass());
        }
      }
      TreeMap<String, String> critical = new TreeMap<>();
      critical.put("source-address", sourceAddress(machine, source));
      ssh.forceCommand().ifPresent(c -> critical.put("force-command", c));
      return new Grant(ssh.principalsFor(machine.name()), after, now.plus(ssh.userCertificateLifetime()), critical,
          extensions(fallback));
    };
  }

  /**
   * The configured policy: user principals from {@code ssh.principals.<class>} (default the
   * machine name), host principals = machine name + {@code ssh.host_principals.<machine>};
   * user certificates carry {@code source-address} = the machine's bound CIDRs (or the
   * request's address as a host route when none are bound) and the class's
   * {@code force-command}, if any.
   */
  static SshGrantPolicy fromConfig(SshConfig config) {
    return (kind, machine, acr, source, now) -> {
      Instant after = now.minus(BACKDATE);
      if (kind == Kind.HOST) {
        return new Grant(hostPrincipals(config, machine), after, now.plus(config.hostValidity()), new TreeMap<>(), new TreeMap<>());
      }
      List<String> principals = config.principalsByClass().getOrDefault(machine.policyClass(), List.of(machine.name()));
      TreeMap<String, String> critical = new TreeMap<>();
      critical.put("source-address", sourceAddress(machine, source));
      String force = config.forceCommandByClass().get(machine.policyClass());
      if (force != null) critical.put("force-command", force);
      return new Grant(principals, after, now.plus(config.userValidity()), critical, extensions(config));
    };
  }

  /** The machine's name, then {@code ssh.host_principals.<machine>}, without repeats. */
  private static List<String> hostPrincipals(SshConfig config, MachineRecord machine) {
    List<String> names = new ArrayList<>();
    names.add(machine.name());
    for (String h : config.hostPrincipalsByMachine().getOrDefault(machine.name(), List.of())) {
      if (!names.contains(h)) names.add(h);
    }
    return names;
  }

  private static TreeMap<String, String> extensions(SshConfig config) {
    TreeMap<String, String> ext = new TreeMap<>();
    for (String e : config.extensions()) ext.put(e, "");
    return ext;
  }

  /** The machine's bound CIDRs, comma-separated; none bound: the request's address as a host route. */
  static String sourceAddress(MachineRecord machine, InetAddress source) {
    List<String> cidrs = new ArrayList<>();
    for (String c : machine.networks().split(",")) {
      if (!c.isBlank()) cidrs.add(Cidr.parse(c.strip()).toString());
    }
    if (cidrs.isEmpty()) cidrs.add(Cidr.hostOf(source).toString());
    return String.join(",", cidrs);
  }
}
