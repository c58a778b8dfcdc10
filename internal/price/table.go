package price

// The embedded price table: USD per million tokens, standard (non-batch,
// non-priority) API rates, as published by the vendors.
//
// Read on 2026-12-02 from the stored copies of:
//
//	Anthropic  https://platform.claude.com/docs/en/about-claude/pricing
//	           ("Model pricing": base input, 5m cache writes, 1h cache writes,
//	           cache hits & refreshes, output), and for the Claude 3.x / 4.0 rows
//	           https://docs.anthropic.com/en/docs/about-claude/pricing.
//	           Sonnet 4.5 and 4.6 ($3 / $15) and Haiku 4.5 ($1 / $5): input and
//	           output from the model pages
//	           https://platform.claude.com/docs/en/models/sonnet-4-5/overview,
//	           …/sonnet-4-6/overview and the lineup table of …/opus-4-5/overview;
//	           their cache rates are Anthropic's published multipliers of the
//	           base input price (5m write 1.25×, 1h write 2×, read 0.1×), the
//	           ones every row of the pricing table follows.
//	OpenAI     https://developers.openai.com/api/docs/models/gpt-5-codex,
//	           …/models/gpt-5.1, …/models/gpt-5-nano ("Text tokens, per 1M
//	           tokens": input, cached input, output). gpt-5's input ($1.25) is
//	           in those pages' comparison; its cached input and output are the
//	           same as gpt-5-codex, "a version of GPT-5".
//
// Left out because no authoritative price was found (add them in
// prices.toml): o4-mini, gpt-5-mini, gpt-5.1-codex-mini, gpt-5.2+, gpt-5.4,
// gpt-5.5 (no cached-input rate seen), and Anthropic's newest rows whose
// cache rates differ from the multipliers (Opus 5.5, Sonnet 5/5.5, Haiku
// 5.5, Fable, Mythos). Long-context surcharges (Sonnet 4/4.5 above 200K
// input tokens with the 1M beta) are not applied: rows are the ≤200K rate.
//
// Prices are written in micro-dollars per million tokens (1_250_000 is
// $1.25 / MTok) so that costs add up exactly.
const (
	TableDate   = "2026-12-02"
	TableSource = "platform.claude.com/docs/en/about-claude/pricing; developers.openai.com/api/docs/models"
)

// row is static data (no code runs at init): the columns in the order of
// Anthropic's table, OpenAI's cached input in the cache-read column and no
// charge for writing OpenAI's cache.
type row struct {
	id                              string
	in, write5m, write1h, read, out int64 // µ$ per MTok
}

const d = 1_000_000 // one dollar in µ$

var rows = [...]row{
	// canonical id           input    5m write    1h write  cache read  output
	{"claude-opus-5", 5 * d, 6_250_000, 10 * d, 500_000, 25 * d},
	{"claude-opus-4-8", 5 * d, 6_250_000, 10 * d, 500_000, 25 * d},
	{"claude-opus-4-7", 5 * d, 6_250_000, 10 * d, 500_000, 25 * d},
	{"claude-opus-4-6", 5 * d, 6_250_000, 10 * d, 500_000, 25 * d},
	{"claude-opus-4-5", 5 * d, 6_250_000, 10 * d, 500_000, 25 * d},
	{"claude-opus-4-1", 15 * d, 18_750_000, 30 * d, 1_500_000, 75 * d},
	{"claude-opus-4", 15 * d, 18_750_000, 30 * d, 1_500_000, 75 * d},
	{"claude-sonnet-4-6", 3 * d, 3_750_000, 6 * d, 300_000, 15 * d},
	{"claude-sonnet-4-5", 3 * d, 3_750_000, 6 * d, 300_000, 15 * d},
	{"claude-sonnet-4", 3 * d, 3_750_000, 6 * d, 300_000, 15 * d},
	{"claude-sonnet-3-7", 3 * d, 3_750_000, 6 * d, 300_000, 15 * d},
	{"claude-sonnet-3-5", 3 * d, 3_750_000, 6 * d, 300_000, 15 * d},
	{"claude-haiku-4-5", 1 * d, 1_250_000, 2 * d, 100_000, 5 * d},
	{"claude-haiku-3-5", 800_000, 1 * d, 1_600_000, 80_000, 4 * d},
	{"claude-opus-3", 15 * d, 18_750_000, 30 * d, 1_500_000, 75 * d},
	{"claude-haiku-3", 250_000, 300_000, 500_000, 30_000, 1_250_000},

	// canonical id  input   (no cache-write charge)  cached input  output
	{"gpt-5", 1_250_000, 0, 0, 125_000, 10 * d},
	{"gpt-5-codex", 1_250_000, 0, 0, 125_000, 10 * d},
	{"gpt-5.1", 1_250_000, 0, 0, 125_000, 10 * d},
	{"gpt-5-nano", 50_000, 0, 0, 5_000, 400_000},
}
