package suggest

import "testing"

func TestClosest(t *testing.T) {
	tests := []struct {
		word       string
		candidates []string
		want       string
	}{
		{"imagee", []string{"image", "init", "ports"}, "image"},
		{"replicass", []string{"replicas", "resources"}, "replicas"},
		{"prots", []string{"ports"}, "ports"},
		{"zzzz", []string{"image", "ports"}, ""},
		{"data_path_portt", []string{"data_path_port"}, "data_path_port"},
		{"advertise_adres_x", []string{"advertise_address"}, "advertise_address"},
		{"x", nil, ""},
	}
	for _, tt := range tests {
		if got := Closest(tt.word, tt.candidates); got != tt.want {
			t.Errorf("Closest(%q, %v) = %q, want %q", tt.word, tt.candidates, got, tt.want)
		}
	}
	if got := DidYouMean("soure", "source", "target"); got != ` (did you mean "source"?)` {
		t.Errorf("DidYouMean = %q", got)
	}
	if got := DidYouMean("zzzzzz", "source"); got != "" {
		t.Errorf("DidYouMean of no near word = %q", got)
	}
}
