# Reads ensemble-sim CSV rows (several runs, headers repeated) and prints, per run, each policy's
# joins refused / node-minutes over 90 % (demand, turned-away participants included), then the
# default policy's ratios to the best policy of the run (the oracle excluded: it knows the future)
# and to most-free-cpu, the oracle's ratios to most-free-cpu (the floor any online policy is read
# against), and the worst ratios. Columns are found by their header names.
$1 == "scenario" { for (i = 1; i <= NF; i++) col[$i] = i; next }
{
	if (!("policy" in col)) { print "placement-ratios.awk: no CSV header before the rows" > "/dev/stderr"; exit 1 }
	pol = $col["policy"]; refused = $col["joins_refused"] + 0; over = $col["node_minutes_over_90"] + 0
	key = $col["shape"] " r" $col["replicas"] " s" $col["seed"]
	if (!(key in seen)) { seen[key] = 1; order[++n] = key }
	cell[key, pol] = refused " / " int(over + 0.5)
	if (!((key, "policies") in cell)) cell[key, "policies"] = ""
	if (index(cell[key, "policies"], "|" pol "|") == 0) { cell[key, "policies"] = cell[key, "policies"] "|" pol "|"; pols[++np[key], key] = pol }
	if (pol == "oracle") { oj[key] = refused; on[key] = over; next }
	if (!(key in bj) || refused < bj[key]) bj[key] = refused
	if (!(key in bn) || over < bn[key]) bn[key] = over
	if (pol == def) { dj[key] = refused; dn[key] = over }
	if (pol == "most-free-cpu") { mj[key] = refused; mn[key] = over }
}
# ratio is a / b, or "-" when b is 0 (and the worst ratio ignores it) unless a is 0 too (1).
function ratio(a, b) { if (b == 0) return a == 0 ? 1 : "-"; return a / b }
function fmt(v) { return v == "-" ? "-" : sprintf("%.2f", v) }
function worst(name, v) { if (v != "-" && (!(name in w) || v > w[name])) w[name] = v }
END {
	header = "| run |"
	rule = "|---|"
	for (i = 1; i <= np[order[1]]; i++) { header = header " " pols[i, order[1]] " |"; rule = rule "---|" }
	print header " " def "/best | " def "/most-free-cpu | oracle/most-free-cpu |"
	print rule "---|---|---|"
	for (k = 1; k <= n; k++) {
		key = order[k]
		line = "| " key " |"
		for (i = 1; i <= np[order[1]]; i++) line = line " " cell[key, pols[i, order[1]]] " |"
		a = ratio(dj[key], bj[key]); b = ratio(dn[key], bn[key]); c = ratio(dj[key], mj[key]); d = ratio(dn[key], mn[key])
		e = "-"; f = "-"
		if (key in oj) { e = ratio(oj[key], mj[key]); f = ratio(on[key], mn[key]) }
		printf "%s %s / %s | %s / %s | %s / %s |\n", line, fmt(a), fmt(b), fmt(c), fmt(d), fmt(e), fmt(f)
		worst("a", a); worst("b", b); worst("c", c); worst("d", d); worst("e", e); worst("f", f)
	}
	printf "\nworst %s: %s / %s of the best policy, %s / %s of most-free-cpu; worst oracle: %s / %s of most-free-cpu\n",
		def, fmt(w["a"]), fmt(w["b"]), fmt(w["c"]), fmt(w["d"]), fmt(w["e"]), fmt(w["f"])
}
