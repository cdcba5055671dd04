# Reads ensemble-sim CSV rows (several runs, headers repeated) and prints, per run, each policy's
# joins refused / node-minutes over 90 %, then the default policy's ratios to the best policy of
# the run (the oracle excluded: it knows the future) and to most-free-cpu, and the worst ratios.
$1 == "scenario" { next }
{
	key = $2 " r" $5 " s" $3
	if (!(key in seen)) { seen[key] = 1; order[++n] = key }
	cell[key, $10] = $11 " / " int($13 + 0.5)
	if (!((key, "policies") in cell)) cell[key, "policies"] = ""
	if (index(cell[key, "policies"], "|" $10 "|") == 0) { cell[key, "policies"] = cell[key, "policies"] "|" $10 "|"; pols[++np[key], key] = $10 }
	if ($10 == "oracle") next
	if (!(key in bj) || $11 + 0 < bj[key]) bj[key] = $11 + 0
	if (!(key in bn) || $13 + 0 < bn[key]) bn[key] = $13 + 0
	if ($10 == def) { dj[key] = $11 + 0; dn[key] = $13 + 0 }
	if ($10 == "most-free-cpu") { mj[key] = $11 + 0; mn[key] = $13 + 0 }
}
END {
	header = "| run |"
	rule = "|---|"
	for (i = 1; i <= np[order[1]]; i++) { header = header " " pols[i, order[1]] " |"; rule = rule "---|" }
	print header " " def "/best | " def "/most-free-cpu |"
	print rule "---|---|"
	for (k = 1; k <= n; k++) {
		key = order[k]
		line = "| " key " |"
		for (i = 1; i <= np[order[1]]; i++) line = line " " cell[key, pols[i, order[1]]] " |"
		a = dj[key] / bj[key]; b = dn[key] / bn[key]; c = dj[key] / mj[key]; d = dn[key] / mn[key]
		printf "%s %.2f / %.2f | %.2f / %.2f |\n", line, a, b, c, d
		if (a > wa) wa = a; if (b > wb) wb = b; if (c > wc) wc = c; if (d > wd) wd = d
	}
	printf "\nworst %s: %.2f / %.2f of the best policy, %.2f / %.2f of most-free-cpu\n", def, wa, wb, wc, wd
}
