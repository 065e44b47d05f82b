package dev.m2mfa.authority.policy;

import java.util.List;
import java.util.Set;

/**
 * One requirement of a level: at least {@code k} of the factors in {@code of} must pass.
 * {@code all_of} is the case {@code k == of.size()}.
 *
 * @param k how many must pass, 1 to {@code of.size()}
 * @param of the factor names, distinct, in the order the policy lists them
 */
public record FactorGroup(int k, List<String> of) {
  public FactorGroup {
    of = List.copyOf(of);
    if (of.isEmpty()) throw new IllegalArgumentException("a factor group needs at least one factor");
    if (Set.copyOf(of).size() != of.size()) throw new IllegalArgumentException("a factor group names a factor twice: " + of);
    if (k < 1 || k > of.size()) throw new IllegalArgumentException("k must be between 1 and " + of.size());
  }

  public static FactorGroup allOf(List<String> factors) {
    return new FactorGroup(factors.size(), factors);
  }

  public boolean isAllOf() {
    return k == of.size();
  }

  /** Whether at least {@code k} of this group's factors are in {@code passed}. */
  public boolean holds(Set<String> passed) {
    return passedCount(passed) >= k;
  }

  int passedCount(Set<String> passed) {
    int n = 0;
    for (String f : of) if (passed.contains(f)) n++;
    return n;
  }

  /** "all of [key, network]" or "1 of [otp-chain, hardware]". */
  public String describe() {
    return (isAllOf() ? "all" : String.valueOf(k)) + " of [" + String.join(", ", of) + "]";
  }
}
