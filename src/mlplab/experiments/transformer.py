"""Where a Transformer's parameters live (C23): the feed-forward block's share.

Counts are computed from the architectures' formulas — every weight and bias of attention
(Q, K, V and output projections), of the two feed-forward linears, of the layer norms, of the
embeddings and (BERT) of the pooler — and checked against PyTorch modules of the same shapes
built on the ``meta`` device (shapes only, no memory).
"""

from __future__ import annotations

from mlplab.experiments.base import (
    FAILS,
    HOLDS,
    PARTLY,
    Experiment,
    Judgement,
    new_figure,
    register,
)

#: Published configurations (Radford et al. 2019; Devlin et al. 2019).
CONFIGS = {
    "GPT-2 small": {
        "d": 768,
        "layers": 12,
        "ff": 3072,
        "vocab": 50257,
        "positions": 1024,
        "token_types": 0,
        "pooler": False,
        "final_norm": True,
        "embedding_norm": False,
        "tied_lm_head": True,
    },
    "BERT-base": {
        "d": 768,
        "layers": 12,
        "ff": 3072,
        "vocab": 30522,
        "positions": 512,
        "token_types": 2,
        "pooler": True,
        "final_norm": False,
        "embedding_norm": True,
        "tied_lm_head": True,
    },
}


def count(cfg: dict) -> dict:
    """Parameter counts by part for one configuration.

    Per layer: attention ``4(d² + d)`` (Q, K, V, output), feed-forward ``2·d·ff + ff + d``,
    two layer norms ``2·2d``.  Embeddings: ``(vocab + positions + token_types)·d`` (+ a layer
    norm for BERT).  GPT-2 adds a final layer norm; BERT a pooler ``d² + d``.  A tied LM head
    adds nothing.
    """
    d, L, ff = cfg["d"], cfg["layers"], cfg["ff"]
    attention = L * 4 * (d * d + d)
    ffn = L * (2 * d * ff + ff + d)
    norms = L * 2 * 2 * d + (2 * d if cfg["final_norm"] else 0)
    embeddings = (cfg["vocab"] + cfg["positions"] + cfg["token_types"]) * d
    embeddings += 2 * d if cfg["embedding_norm"] else 0
    pooler = d * d + d if cfg["pooler"] else 0
    total = attention + ffn + norms + embeddings + pooler
    return {
        "attention": attention,
        "ffn": ffn,
        "layer_norms": norms,
        "embeddings": embeddings,
        "pooler": pooler,
        "total": total,
        "non_embedding": total - embeddings,
        "ffn_share_total": ffn / total,
        "ffn_share_non_embedding": ffn / (total - embeddings),
        "ffn_share_blocks": ffn / (attention + ffn + L * 4 * d),
    }


def torch_count(cfg: dict) -> int:
    """Total parameters of the same shapes built from torch.nn modules on the meta device."""
    import torch
    from torch import nn

    d, ff = cfg["d"], cfg["ff"]
    with torch.device("meta"):
        parts = [nn.Embedding(cfg["vocab"], d), nn.Embedding(cfg["positions"], d)]
        if cfg["token_types"]:
            parts.append(nn.Embedding(cfg["token_types"], d))
        if cfg["embedding_norm"]:
            parts.append(nn.LayerNorm(d))
        for _ in range(cfg["layers"]):
            # Q, K, V + output projection, the two feed-forward linears, two layer norms
            parts.append(nn.TransformerEncoderLayer(d, nhead=12, dim_feedforward=ff))
        if cfg["final_norm"]:
            parts.append(nn.LayerNorm(d))
        if cfg["pooler"]:
            parts.append(nn.Linear(d, d))
        model = nn.ModuleList(parts)
    return int(sum(p.numel() for p in model.parameters()))


@register
class FeedForwardShare(Experiment):
    """The feed-forward block's share of GPT-2 small and BERT-base, with and without embeddings."""

    id = "C23"
    title = "The feed-forward block holds about 2/3 of a Transformer's parameters"
    claim = "The two-layer feed-forward block holds about 2/3 of a Transformer's parameters"
    section = "7.4, Q5"
    measures = "parameter counts of GPT-2 small and BERT-base, with and without embeddings"
    rule = (
        "'About 2/3' means a share within [0.60, 0.72]. holds if the FFN share of all "
        "parameters (embeddings included) is in that band for both models; partly if it is in "
        "the band for both only once embeddings are left out; fails otherwise. The formula "
        "count must equal the count of torch.nn modules of the same shapes, else the "
        "experiment stops with an error."
    )
    uses_seeds = False
    profiles = {"tiny": {}, "quick": {}, "full": {}}
    cost = {"tiny": 0.2, "quick": 0.2, "full": 0.2}

    LO, HI = 0.60, 0.72

    def measure(self, settings, seeds, rng):
        out = {}
        for name, cfg in CONFIGS.items():
            c = count(cfg)
            t = torch_count(cfg)
            if t != c["total"]:
                raise RuntimeError(f"{name}: formula count {c['total']} != torch count {t}")
            out[name] = {**c, "torch_total": t, "config": dict(cfg)}
        return out

    def breaks(self, m):
        parts = [
            f"{name} {100 * v['ffn'] / v['non_embedding']:.1f}% without embeddings, "
            f"{100 * v['ffn_share_total']:.1f}% with them"
            for name, v in m.items()
        ]
        return (
            "The FFN share: " + "; ".join(parts) + " — about 2/3 only once embeddings are left out."
        )

    def judge(self, m):
        with_emb = {k: v["ffn_share_total"] for k, v in m.items()}
        without = {k: v["ffn_share_non_embedding"] for k, v in m.items()}
        text = "; ".join(
            f"{k}: {v['total']:,} parameters, FFN {v['ffn']:,} = {with_emb[k]:.1%} of all, "
            f"{without[k]:.1%} without embeddings"
            for k, v in m.items()
        )
        if all(self.LO <= s <= self.HI for s in with_emb.values()):
            return Judgement(HOLDS, text + ".")
        if all(self.LO <= s <= self.HI for s in without.values()):
            lo, hi = min(with_emb.values()), max(with_emb.values())
            return Judgement(
                PARTLY,
                text + ". About 2/3 holds for the transformer layers (embeddings excluded); with "
                f"the embedding tables counted the FFN share is only {lo:.0%}–{hi:.0%}.",
            )
        return Judgement(FAILS, text + ".")

    def rows(self, m):
        out = []
        for name, c in m.items():
            out.append(
                (
                    name,
                    f"total {c['total']:,} (torch count {c['torch_total']:,}); FFN {c['ffn']:,}, "
                    f"attention {c['attention']:,}, embeddings {c['embeddings']:,}, layer norms "
                    f"{c['layer_norms']:,}, pooler {c['pooler']:,}",
                )
            )
            out.append(
                (
                    f"{name}: FFN share",
                    f"{c['ffn_share_total']:.1%} of all, {c['ffn_share_non_embedding']:.1%} "
                    "without embeddings",
                )
            )
        return out

    def figures(self, m):
        fig, ax = new_figure(width=8.5, height=3.2)
        parts = [
            ("ffn", "feed-forward", "tab:blue"),
            ("attention", "attention", "tab:orange"),
            ("layer_norms", "layer norms + pooler", "tab:grey"),
            ("embeddings", "embeddings", "tab:green"),
        ]
        labels, rows = [], []
        for name, c in m.items():
            labels += [f"{name}\n(all)", f"{name}\n(no embeddings)"]
            rows.append(
                {k: c[k] for k, *_ in parts} | {"layer_norms": c["layer_norms"] + c["pooler"]}
            )
            rows.append({**rows[-1], "embeddings": 0})
        for i, row in enumerate(rows):
            total, left = sum(row.values()), 0.0
            for key, label, color in parts:
                share = row[key] / total
                ax.barh(i, share, left=left, color=color, label=label if i == 0 else None)
                if share > 0.06:
                    ax.text(
                        left + share / 2,
                        i,
                        f"{share:.0%}",
                        ha="center",
                        va="center",
                        color="white",
                        fontsize=8,
                    )
                left += share
        ax.axvline(2 / 3, color="black", ls=":", lw=1)
        ax.set_yticks(range(len(labels)), labels, fontsize=8)
        ax.invert_yaxis()
        ax.set(xlabel="share of parameters (dotted: 2/3)", xlim=(0, 1))
        ax.legend(fontsize=7, loc="lower right", ncols=2)
        return [("where the parameters are: GPT-2 small and BERT-base", fig)]
