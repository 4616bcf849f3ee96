package exposure

import "maps"

// Clone returns a deep copy of the inventory that can be changed without
// touching inv: targets, forwards, paths, layers and their rule slices are
// copied. A layer shared by several targets (or listed in Layers and on a
// path) stays shared in the copy, so the copy analyzes as fast as the
// original. Address sets are shared: a *netipx.IPSet is immutable.
func (inv *Inventory) Clone() *Inventory {
	if inv == nil {
		return nil
	}
	layers := map[*Layer]*Layer{}
	layer := func(l *Layer) *Layer {
		if l == nil {
			return nil
		}
		if c, ok := layers[l]; ok {
			return c
		}
		c := *l
		c.Rules = cloneRules(l.Rules)
		c.Outbound = cloneRules(l.Outbound)
		c.Tags = maps.Clone(l.Tags)
		layers[l] = &c
		return &c
	}
	path := func(p Path) Path {
		if p == nil {
			return nil
		}
		out := make(Path, len(p))
		for i, h := range p {
			if h.Layers != nil {
				out[i].Layers = make([]*Layer, len(h.Layers))
				for j, l := range h.Layers {
					out[i].Layers[j] = layer(l)
				}
			}
		}
		return out
	}
	out := &Inventory{Errors: append([]Error(nil), inv.Errors...)}
	if inv.Layers != nil {
		out.Layers = make([]*Layer, len(inv.Layers))
		for i, l := range inv.Layers {
			out.Layers[i] = layer(l)
		}
	}
	if inv.Targets != nil {
		out.Targets = make([]*Target, len(inv.Targets))
		for i, t := range inv.Targets {
			if t == nil {
				continue
			}
			c := *t
			c.Tags = maps.Clone(t.Tags)
			c.Endpoints = append([]Endpoint(nil), t.Endpoints...)
			c.Path = path(t.Path)
			if t.Forwards != nil {
				c.Forwards = make([]Forward, len(t.Forwards))
				for j, f := range t.Forwards {
					f.BackendPath = path(f.BackendPath)
					c.Forwards[j] = f
				}
			}
			out.Targets[i] = &c
		}
	}
	return out
}

func cloneRules(rs []Rule) []Rule {
	if rs == nil {
		return nil
	}
	out := make([]Rule, len(rs))
	for i, r := range rs {
		r.Ports = append([]PortRange(nil), r.Ports...)
		r.SourceNames = append([]string(nil), r.SourceNames...)
		out[i] = r
	}
	return out
}
