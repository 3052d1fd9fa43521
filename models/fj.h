/* Energy in femtojoules: the one type every layer (model, ledger, run, reports) counts energy in.
 * 128 bits: a paper-scale float32 training run exceeds 2^64 fJ (18 kJ). */
#ifndef E2_FJ_H
#define E2_FJ_H

__extension__ typedef unsigned __int128 e2_fj;

#endif
