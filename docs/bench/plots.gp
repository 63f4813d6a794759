# The charts of reel-bench; run 'gnuplot plots.gp' in this folder to redraw them.
set terminal pngcairo size 1500,560 font 'DejaVu Sans,10'
set output 'ipc.png'
set style fill solid 0.85 border -1
set grid ytics lc rgb '#dddddd'
set key top right
set xtics rotate by -30 nomirror
set ytics nomirror
set multiplot layout 1,3 title 'reel-bench ipc: two processes, the receiver reads every byte'
set xrange [-0.6:5.4]
set yrange [0:*]
set boxwidth 0.7
set offsets 0, 0, graph 0.1, 0
set key top left
set title 'bulk, GB/s'
plot 'ipc-mech.dat' using 1:3:xtic(2) with boxes lc rgb '#4c72b0' notitle, '' using 1:3:(sprintf('%.2f', $3)) with labels offset 0,0.7 notitle, 8.7880 with lines dt 2 lc rgb 'black' title sprintf('memcpy %.1f GB/s', 8.7880)
set title '1 KiB messages, millions/s'
plot 'ipc-mech.dat' using 1:4:xtic(2) with boxes lc rgb '#55a868' notitle, '' using 1:4:(sprintf('%.2f', $4)) with labels offset 0,0.7 notitle
set xrange [-0.6:3.4]
set title '1080p frames to another process, frames/s'
plot 'ipc-frames.dat' using 1:3:xtic(2) with boxes lc rgb '#c44e52' notitle, '' using 1:3:(sprintf('%.0f', $3)) with labels offset 0,0.7 notitle
unset multiplot
unset title
unset xrange
unset yrange
unset offsets
set key top right
set terminal pngcairo size 1200,560 font 'DejaVu Sans,10'
set output 'latency.png'
set style fill solid 0.85 border -1
set grid ytics lc rgb '#dddddd'
set key top right
set xtics rotate by -30 nomirror
set ytics nomirror
set title 'round trips, p50 and p99 (microseconds, log scale)'
set logscale y
set xrange [-0.6:10.4]
set boxwidth 0.34
plot 'latency.dat' using ($1-0.18):3 with boxes lc rgb '#4c72b0' title 'p50', '' using ($1+0.18):4:xtic(2) with boxes lc rgb '#dd8452' title 'p99', '' using ($1-0.18):3:(sprintf('%.1f', $3)) with labels offset 0,0.7 font ',8' notitle, '' using ($1+0.18):4:(sprintf('%.1f', $4)) with labels offset 0,0.7 font ',8' notitle
unset logscale y
unset title
unset xrange
set terminal pngcairo size 1400,640 font 'DejaVu Sans,10'
set output 'ratios.png'
set style fill solid 0.85 border -1
set grid ytics lc rgb '#dddddd'
set key top right
set xtics rotate by -30 nomirror
set ytics nomirror
set title "reel against each baseline, as reel's advantage: the baseline's time over reel's, or reel's rate over the baseline's\n(above 1: reel faster or cheaper; log scale)"
set logscale y
set xrange [-0.6:33.4]
plot 'ratios.dat' using 1:3:($1-0.35):($1+0.35):(1):3:($3 >= 1 ? 0x55a868 : 0xc44e52):xtic(2) with boxxyerror fs solid 0.85 lc rgb variable notitle, '' using 1:($3 >= 1 ? $3 : 1/0):(sprintf($3 >= 100 ? '%.0f' : '%.2f', $3)) with labels offset 0,0.7 font ',8' notitle, '' using 1:($3 < 1 ? $3 : 1/0):(sprintf($3 >= 0.1 ? '%.2f' : '%.2g', $3)) with labels offset 0,-0.7 font ',8' notitle, 1 with lines dt 2 lc rgb 'black' title 'even (1)'
unset logscale y
unset title
unset xrange
