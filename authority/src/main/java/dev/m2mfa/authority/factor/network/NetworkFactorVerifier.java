package dev.m2mfa.authority.factor.network;

import dev.m2mfa.api.Cidr;
import dev.m2mfa.api.factor.EnrolledMachine;
import dev.m2mfa.api.factor.FactorOutcome;
import dev.m2mfa.api.factor.FactorVerifier;
import dev.m2mfa.api.factor.VerificationContext;
import java.util.Map;

/**
 * Factor {@code network}: the connection comes from inside one of the machine's bound CIDRs.
 * The address is the authority's own view of the TCP peer (or, behind a configured trusted
 * proxy, the first address that proxy chain did not add); nothing the agent says counts.
 * Defeats a copied key used from another network. It does not stop an attacker who is on
 * the machine or on its network: other factors cover that.
 */
public final class NetworkFactorVerifier implements FactorVerifier {
  @Override
  public String name() {
    return "network";
  }

  @Override
  public Map<String, Object> challenge(EnrolledMachine machine) {
    return Map.of();
  }

  @Override
  public FactorOutcome verify(VerificationContext context, Map<String, Object> untrustedEvidence) {
    var source = context.sourceAddress();
    if (source == null) return FactorOutcome.fail("source address unknown");
    if (context.machine().networks().isEmpty()) return FactorOutcome.absent("machine has no bound networks");
    for (Cidr c : context.machine().networks()) {
      if (c.contains(source)) return FactorOutcome.pass("source " + source.getHostAddress() + " inside " + c);
    }
    return FactorOutcome.fail("source " + source.getHostAddress() + " outside bound networks " + context.machine().networks());
  }
}
