// Package suggest finds the word a typo was meant to be: the CLI's flag
// values, config keys and compose keys all say "did you mean" with it.
package suggest

import "fmt"

// Closest returns the candidate closest to word when it is close enough
// to be a likely typo (an edit distance of 2, or 3 for a word of 12
// characters or more), or "".
func Closest(word string, candidates []string) string {
	best, bestDist := "", 0
	for _, c := range candidates {
		d := editDistance(word, c)
		if best == "" || d < bestDist {
			best, bestDist = c, d
		}
	}
	limit := 2
	if len(word) >= 12 {
		limit = 3
	}
	if best == "" || bestDist > limit {
		return ""
	}
	return best
}

// DidYouMean returns ` (did you mean "x"?)` when word is a likely typo of
// one of the candidates, else "".
func DidYouMean(word string, candidates ...string) string {
	if best := Closest(word, candidates); best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return ""
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
