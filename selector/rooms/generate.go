package rooms

import (
	"strconv"

	"github.com/ensemble-jitsi/ensemble/selector/placement"
)

// NewName returns a readable random room name such as "brave-otters-paint-gently-42": four words
// from 64-word lists and a two-digit number, about 30.6 bits. Room names are how people find a
// meeting, so they must be hard to guess by chance: two of 2,000 rooms a day share a name with
// probability about 0.1 %; callers must still bind create-only and draw again if the name is taken.
func NewName(r placement.Rand) string {
	var b []byte
	b = append(b, adjectives[r.IntN(len(adjectives))]...)
	b = append(b, '-')
	b = append(b, nouns[r.IntN(len(nouns))]...)
	b = append(b, '-')
	b = append(b, verbs[r.IntN(len(verbs))]...)
	b = append(b, '-')
	b = append(b, adverbs[r.IntN(len(adverbs))]...)
	b = append(b, '-')
	b = strconv.AppendInt(b, int64(10+r.IntN(90)), 10)
	return string(b)
}

var adjectives = [64]string{
	"agile", "amber", "ancient", "bold", "brave", "bright", "brisk", "calm",
	"clever", "cosmic", "crisp", "curious", "daring", "dizzy", "eager", "early",
	"fancy", "fierce", "gentle", "giant", "golden", "grand", "happy", "hidden",
	"humble", "icy", "jolly", "keen", "kind", "lively", "lucky", "mellow",
	"merry", "mighty", "misty", "modern", "noble", "odd", "plucky", "polite",
	"proud", "quick", "quiet", "rapid", "rosy", "royal", "rusty", "shiny",
	"silent", "silver", "sleepy", "smooth", "snowy", "steady", "sunny", "swift",
	"tidy", "tiny", "vast", "velvet", "witty", "wise", "young", "zesty",
}

var nouns = [64]string{
	"badgers", "bears", "beavers", "bees", "bison", "camels", "cats", "comets",
	"cranes", "deer", "dolphins", "doves", "eagles", "falcons", "ferns", "finches",
	"foxes", "frogs", "geese", "hawks", "herons", "horses", "koalas", "larks",
	"lemurs", "lions", "llamas", "lynxes", "maples", "moose", "moths", "newts",
	"oaks", "otters", "owls", "pandas", "parrots", "pelicans", "pines", "planets",
	"ponies", "puffins", "rabbits", "ravens", "rivers", "robins", "salmon", "seals",
	"sparrows", "squids", "stars", "storks", "swans", "tigers", "toucans", "trout",
	"tulips", "turtles", "walruses", "whales", "willows", "wolves", "wombats", "zebras",
}

var verbs = [64]string{
	"ask", "bake", "build", "carry", "chase", "climb", "cook", "count",
	"dance", "dig", "draw", "dream", "drift", "explore", "fetch", "fly",
	"fold", "gather", "glide", "greet", "grow", "hum", "jump", "juggle",
	"knit", "laugh", "learn", "listen", "march", "meet", "mend", "nap",
	"paint", "plan", "play", "ponder", "race", "read", "rest", "roam",
	"row", "sail", "scribble", "search", "sew", "shine", "sing", "skate",
	"ski", "sketch", "skip", "smile", "solve", "spin", "swim", "talk",
	"think", "travel", "wander", "wave", "whisper", "whistle", "write", "yodel",
}

var adverbs = [64]string{
	"ably", "boldly", "bravely", "brightly", "briskly", "busily", "calmly", "carefully",
	"cheerfully", "clearly", "closely", "deftly", "eagerly", "easily", "evenly", "fairly",
	"fondly", "freely", "gently", "gladly", "gracefully", "happily", "honestly", "jointly",
	"kindly", "lightly", "loudly", "loyally", "madly", "merrily", "neatly", "nicely",
	"openly", "patiently", "politely", "proudly", "quickly", "quietly", "rapidly", "rarely",
	"readily", "safely", "sharply", "shyly", "simply", "slowly", "smoothly", "softly",
	"steadily", "sternly", "swiftly", "tenderly", "thankfully", "tidily", "truly", "vastly",
	"warmly", "weekly", "wildly", "wisely", "wryly", "yearly", "zealously", "zestfully",
}
