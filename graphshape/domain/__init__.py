"""From constraints to the domain: solve (isl), sets (membership), closed form, queries,
the periodic cross-check. May import arith/, loader/ and shapes/."""
