package dev.m2mfa.authority.ssh;

import dev.m2mfa.api.Cidr;
import dev.m2mfa.authority.store.MachineRecord;
import java.net.InetAddress;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * The one place that decides what an SSH certificate for a machine says: principals, validity,
 * critical options and extensions. The lead will back this with the policy engine; today
 * {@link #fromConfig} reads {@link SshConfig}. Swapping the policy means passing another
 * implementation to {@link SshService}; nothing else decides these values.
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
   * @param source the address the request came from, as the authority decided it
   */
  Grant decide(Kind kind, MachineRecord machine, InetAddress source, Instant now);

  /**
   * The configured policy: user principals from {@code ssh.principals.<class>} (default the
   * machine name), host principals = machine name + {@code ssh.host_principals.<machine>};
   * user certificates carry {@code source-address} = the machine's bound CIDRs (or the
   * request's address as a host route when none are bound) and the class's
   * {@code force-command}, if any.
   */
  static SshGrantPolicy fromConfig(SshConfig config) {
    return (kind, machine, source, now) -> {
      Instant after = now.minus(BACKDATE);
      if (kind == Kind.HOST) {
        List<String> names = new ArrayList<>();
        names.add(machine.name());
        for (String h : config.hostPrincipalsByMachine().getOrDefault(machine.name(), List.of())) {
          if (!names.contains(h)) names.add(h);
        }
        return new Grant(names, after, now.plus(config.hostValidity()), new TreeMap<>(), new TreeMap<>());
      }
      List<String> principals = config.principalsByClass().getOrDefault(machine.policyClass(), List.of(machine.name()));
      TreeMap<String, String> critical = new TreeMap<>();
      critical.put("source-address", sourceAddress(machine, source));
      String force = config.forceCommandByClass().get(machine.policyClass());
      if (force != null) critical.put("force-command", force);
      TreeMap<String, String> ext = new TreeMap<>();
      for (String e : config.extensions()) ext.put(e, "");
      return new Grant(principals, after, now.plus(config.userValidity()), critical, ext);
    };
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
