//! The visual hull: octree carving of a voxel grid against calibrated silhouettes, with
//! per-camera summed-area tables so a whole cell is tested against a view in four reads.
//! Views where a cell projects partly outside the image never carve it (the subject may
//! have left that camera's field), and a configurable number of views may disagree.

use std::borrow::Cow;

use glam::{DVec2, DVec3};
use rayon::prelude::*;

use crate::camera::{Camera, Projector};
use crate::image::{Integral, Mask, Window};

/// One calibrated silhouette.
pub struct View<'a> {
    /// The camera.
    pub camera: &'a Camera,
    /// The subject's silhouette in that camera: its pixels in a box, clear outside it.
    pub silhouette: Cow<'a, Window<bool>>,
    /// The silhouette's image size.
    pub size: (u32, u32),
    integral: Integral,
    projector: Projector,
}

impl<'a> View<'a> {
    /// Prepares a view of a mask (keeps the box around its set pixels, builds its
    /// summed-area table).
    pub fn new(camera: &'a Camera, mask: &Mask) -> Self {
        Self::with(
            camera,
            Cow::Owned(Window::around(mask)),
            (mask.width, mask.height),
        )
    }

    /// Prepares a view of a silhouette given as a window of the camera's image.
    pub fn windowed(camera: &'a Camera, silhouette: &'a Window<bool>) -> Self {
        Self::with(
            camera,
            Cow::Borrowed(silhouette),
            (camera.width, camera.height),
        )
    }

    fn with(camera: &'a Camera, silhouette: Cow<'a, Window<bool>>, size: (u32, u32)) -> Self {
        View {
            camera,
            integral: silhouette.integral(size.0, size.1),
            silhouette,
            size,
            projector: camera.projector(),
        }
    }
}

/// An axis-aligned box in world coordinates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds {
    /// The lowest corner.
    pub min: DVec3,
    /// The highest corner.
    pub max: DVec3,
}

/// How to carve.
#[derive(Debug, Clone, Copy)]
pub struct Carving {
    /// Voxels per axis; a power of two.
    pub resolution: u32,
    /// How many views may see a voxel outside their silhouette before it is carved away
    /// (0: every view must agree it is inside).
    pub tolerance: u32,
    /// How many views must have a voxel in their field of view for it to stay; space that
    /// too few cameras see is carved (0 keeps everything no camera rules out).
    pub min_views: u32,
}

impl Carving {
    /// Every view must agree, and a voxel must be seen by at least two views.
    pub fn strict(resolution: u32) -> Carving {
        Carving {
            resolution,
            tolerance: 0,
            min_views: 2,
        }
    }
}

/// What a view says about a cell.
#[derive(Clone, Copy, PartialEq)]
enum Verdict {
    Outside,
    Inside,
    Partly,
}

/// A carved voxel grid.
#[derive(Debug, Clone)]
pub struct Hull {
    /// The box the grid spans.
    pub bounds: Bounds,
    /// Voxels per axis.
    pub resolution: u32,
    /// `resolution³` flags, index `x + n (y + n z)`.
    pub occupied: Vec<bool>,
}

/// Carves the visual hull of `views` inside `bounds`.
pub fn carve(views: &[View<'_>], bounds: Bounds, carving: Carving) -> Hull {
    carve_with(views, bounds, carving, false)
}

/// Carves; a `conservative` carving keeps every voxel whose box no view sees wholly outside
/// (a thin limb that misses the voxel centres still keeps its voxels).
fn carve_with(views: &[View<'_>], bounds: Bounds, carving: Carving, conservative: bool) -> Hull {
    let n = carving.resolution;
    assert!(
        n.is_power_of_two() && n >= 4,
        "resolution must be a power of two, at least 4"
    );
    let voxel = (bounds.max - bounds.min) / f64::from(n);
    let carver = Carver {
        views,
        min: bounds.min,
        voxel,
        n,
        tolerance: carving.tolerance,
        min_views: carving.min_views,
        conservative,
    };
    // Eight-cube top cells, carved in parallel; each returns its occupied voxel indices.
    let top = 4u32;
    let size = n / top;
    let cells: Vec<(u32, u32, u32)> = (0..top)
        .flat_map(|z| {
            (0..top).flat_map(move |y| (0..top).map(move |x| (x * size, y * size, z * size)))
        })
        .collect();
    let parts: Vec<Vec<u32>> = cells
        .par_iter()
        .map(|&(x, y, z)| {
            let mut walk = Walk::default();
            carver.visit(x, y, z, size, 0, &mut walk);
            walk.out
        })
        .collect();
    let mut occupied = vec![false; (n as usize).pow(3)];
    for index in parts.into_iter().flatten() {
        occupied[index as usize] = true;
    }
    Hull {
        bounds,
        resolution: n,
        occupied,
    }
}

/// Carves in passes: coarsely and conservatively over the whole `volume` to find the box the
/// subject lies in (again inside that box while it keeps shrinking), then at
/// `carving.resolution` over the box, so a small athlete in a large venue volume still gets
/// fine voxels. Empty if nothing survives the coarse pass.
pub fn carve_tracked(views: &[View<'_>], volume: Bounds, carving: Carving) -> Hull {
    let mut region = volume;
    for _ in 0..3 {
        let Some(found) = subject_box(views, region, carving) else {
            return Hull {
                bounds: volume,
                resolution: carving.resolution,
                occupied: vec![false; (carving.resolution as usize).pow(3)],
            };
        };
        let shrunk =
            (found.max - found.min).max_element() < 0.7 * (region.max - region.min).max_element();
        region = found;
        if !shrunk {
            break;
        }
    }
    carve(views, region, carving)
}

/// The box of the voxels a coarse conservative carving of `region` keeps, if any.
fn subject_box(views: &[View<'_>], region: Bounds, carving: Carving) -> Option<Bounds> {
    let coarse = carve_with(
        views,
        region,
        Carving {
            resolution: COARSE,
            ..carving
        },
        true,
    );
    let (mut lo, mut hi) = ([i64::MAX; 3], [i64::MIN; 3]);
    for (i, _) in coarse.occupied.iter().enumerate().filter(|(_, v)| **v) {
        let c = coarse.cell(i as u32).map(|v| v as i64);
        for k in 0..3 {
            lo[k] = lo[k].min(c[k]);
            hi[k] = hi[k].max(c[k] + 1);
        }
    }
    if lo[0] == i64::MAX {
        return None;
    }
    let voxel = coarse.voxel_size();
    let corner =
        |c: [i64; 3]| region.min + voxel * DVec3::new(c[0] as f64, c[1] as f64, c[2] as f64);
    Some(Bounds {
        min: corner(lo),
        max: corner(hi),
    })
}

/// A voxel whose diagonal projects to less than this many pixels is drawn as the one pixel
/// its centre falls in, not as the polygon of its corners (which holds one pixel centre at
/// most): a venue camera sees a key instant's 256³ voxels at about half a pixel.
const SUBPIXEL: f64 = 1.0;

/// Voxels per axis of the first pass of [`carve_tracked`].
const COARSE: u32 = 32;

struct Carver<'v, 'a> {
    views: &'v [View<'a>],
    min: DVec3,
    voxel: DVec3,
    n: u32,
    tolerance: u32,
    min_views: u32,
    conservative: bool,
}

/// One walk down the octree: the voxels kept, and the view that last carved a cell away.
/// Neighbouring cells tend to be carved by the same view, so it is asked first; whether a
/// cell stays does not depend on the order the views are asked in, only the time does.
#[derive(Default)]
struct Walk {
    out: Vec<u32>,
    first: usize,
}

impl Walk {
    /// The views' indices, from the one to ask first.
    fn order(&self, count: usize) -> impl Iterator<Item = usize> + use<> {
        let first = self.first.min(count.saturating_sub(1));
        (first..count).chain(0..first)
    }
}

impl Carver<'_, '_> {
    /// Carves a cell. Bit `v` of `inside` says view `v` already saw a parent wholly inside its
    /// silhouette, so it need not look again (only the first 64 views are remembered).
    fn visit(&self, x: u32, y: u32, z: u32, size: u32, inside: u64, walk: &mut Walk) {
        let lo = self.min + self.voxel * DVec3::new(f64::from(x), f64::from(y), f64::from(z));
        let hi = lo + self.voxel * f64::from(size);
        if size == 1 && !self.conservative {
            if self.leaf_occupied((lo + hi) * 0.5, inside, walk) {
                walk.out.push(x + self.n * (y + self.n * z));
            }
            return;
        }
        // A cell of eight voxels: asking a view about its corners costs eight projections,
        // as many as asking about its voxels' centres, and a cell on the silhouette's edge
        // (most cells this small) would ask about the centres after.
        if size == 2 && !self.conservative {
            self.leaves([x, y, z], inside, walk);
            return;
        }
        let mut outside = 0;
        let mut all_inside = true;
        let mut inside = inside;
        for v in walk.order(self.views.len()) {
            let view = &self.views[v];
            let bit = if v < 64 { 1u64 << v } else { 0 };
            if inside & bit != 0 {
                continue;
            }
            match verdict(view, lo, hi) {
                Verdict::Outside => {
                    outside += 1;
                    all_inside = false;
                    if outside > self.tolerance {
                        walk.first = v;
                        return;
                    }
                }
                Verdict::Partly => all_inside = false,
                Verdict::Inside => inside |= bit,
            }
        }
        // A conservative carving reaches here with single voxels that no view rules out; they
        // stay if enough views see them.
        if size == 1 && !self.seen_enough((lo + hi) * 0.5) {
            return;
        }
        if all_inside || size == 1 {
            for dz in 0..size {
                for dy in 0..size {
                    for dx in 0..size {
                        walk.out
                            .push((x + dx) + self.n * ((y + dy) + self.n * (z + dz)));
                    }
                }
            }
            return;
        }
        let half = size / 2;
        for dz in [0, half] {
            for dy in [0, half] {
                for dx in [0, half] {
                    self.visit(x + dx, y + dy, z + dz, half, inside, walk);
                }
            }
        }
    }

    /// Whether at least `min_views` views have a point in their image.
    fn seen_enough(&self, point: DVec3) -> bool {
        self.views
            .iter()
            .filter(|v| {
                v.projector
                    .project(point)
                    .is_some_and(|p| v.camera.in_image(p))
            })
            .count()
            >= self.min_views as usize
    }

    /// Whether a voxel centre stays; views flagged in `inside` already hold it.
    fn leaf_occupied(&self, center: DVec3, inside: u64, walk: &mut Walk) -> bool {
        self.occupied(&[center], inside, walk) == 1
    }

    /// Carves the eight voxels of the cell of two whose low voxel is `(x, y, z)`: every view
    /// is asked about their eight centres at once.
    fn leaves(&self, [x, y, z]: [u32; 3], inside: u64, walk: &mut Walk) {
        // Ordered as the voxels are kept: x fastest, then y, then z.
        let cells: [[u32; 3]; 8] = std::array::from_fn(|i| {
            [
                x + (i as u32 & 1),
                y + (i as u32 >> 1 & 1),
                z + (i as u32 >> 2),
            ]
        });
        // Each centre computed as a single voxel's is in `visit`.
        let centres = cells.map(|[x, y, z]| {
            let lo = self.min + self.voxel * DVec3::new(f64::from(x), f64::from(y), f64::from(z));
            (lo + (lo + self.voxel * 1.0)) * 0.5
        });
        let kept = self.occupied(&centres, inside, walk);
        for (i, [x, y, z]) in cells.into_iter().enumerate() {
            if kept & (1 << i) != 0 {
                walk.out.push(x + self.n * (y + self.n * z));
            }
        }
    }

    /// Which of the voxel centres `centres` stay (bit `i` for centre `i`): those that at
    /// most `tolerance` views see outside their silhouettes, and at least `min_views` see;
    /// views flagged in `inside` already hold them. Each view projects all the centres at
    /// once; the views are asked until every centre is carved away or all have answered.
    fn occupied<const N: usize>(&self, centres: &[DVec3; N], inside: u64, walk: &mut Walk) -> u32 {
        let mut misses = [0u32; N];
        let mut seen = [inside.count_ones(); N];
        let mut alive: u32 = (1 << N) - 1;
        for v in walk.order(self.views.len()) {
            let view = &self.views[v];
            if v < 64 && inside & (1 << v) != 0 {
                continue;
            }
            let (w, h) = view.size;
            for (i, p) in view.projector.project_all(centres).into_iter().enumerate() {
                let Some(p) = p.filter(|p| alive & (1 << i) != 0 && view.camera.in_image(*p))
                else {
                    continue;
                };
                seen[i] += 1;
                let (px, py) = (round(p.x) as u32, round(p.y) as u32);
                if !view
                    .silhouette
                    .get(px.min(w - 1) as usize, py.min(h - 1) as usize)
                {
                    misses[i] += 1;
                    if misses[i] > self.tolerance {
                        alive &= !(1 << i);
                        walk.first = v;
                    }
                }
            }
            if alive == 0 {
                return 0;
            }
        }
        (0..N)
            .filter(|&i| alive & (1 << i) != 0 && seen[i] >= self.min_views)
            .fold(0, |kept, i| kept | 1 << i)
    }
}

/// The eight corners of the box from `lo` to `hi`: bit 0 of the index picks x from `hi`,
/// bit 1 y, bit 2 z.
fn box_corners(lo: DVec3, hi: DVec3) -> [DVec3; 8] {
    std::array::from_fn(|i| {
        DVec3::new(
            if i & 1 == 0 { lo.x } else { hi.x },
            if i & 2 == 0 { lo.y } else { hi.y },
            if i & 4 == 0 { lo.z } else { hi.z },
        )
    })
}

/// Projects a box's corners and tests the pixels whose centres fall in their bounding rectangle.
fn verdict(view: &View<'_>, lo: DVec3, hi: DVec3) -> Verdict {
    let (mut min, mut max) = (DVec2::splat(f64::INFINITY), DVec2::splat(f64::NEG_INFINITY));
    for p in view.projector.project_all(&box_corners(lo, hi)) {
        let Some(p) = p else {
            return Verdict::Partly;
        };
        min = min.min(p);
        max = max.max(p);
    }
    let (w, h) = (i64::from(view.size.0), i64::from(view.size.1));
    // A corner just in front of the camera projects far away; keep the integers sane.
    let limit = DVec2::splat(1e9);
    let (min, max) = (min.clamp(-limit, limit), max.clamp(-limit, limit));
    let (x0, y0) = (ceil(min.x), ceil(min.y));
    let (x1, y1) = (floor(max.x) + 1, floor(max.y) + 1);
    let (x0, x1) = if x0 >= x1 {
        (round(min.x), round(min.x) + 1)
    } else {
        (x0, x1)
    };
    let (y0, y1) = if y0 >= y1 {
        (round(min.y), round(min.y) + 1)
    } else {
        (y0, y1)
    };
    let within = x0 >= 0 && y0 >= 0 && x1 <= w && y1 <= h;
    let (set, area) = view.integral.count(x0, y0, x1, y1);
    match (within, set) {
        (true, 0) => Verdict::Outside,
        (true, s) if s == area => Verdict::Inside,
        _ => Verdict::Partly,
    }
}

impl Hull {
    /// The size of one voxel.
    pub fn voxel_size(&self) -> DVec3 {
        (self.bounds.max - self.bounds.min) / f64::from(self.resolution)
    }

    /// The occupied voxels' indices (`x + n (y + n z)`), in that order; the grid is scanned
    /// a slab at a time in parallel.
    pub fn occupied_indices(&self) -> Vec<u32> {
        let slab = (self.resolution as usize).pow(2);
        self.occupied
            .par_chunks(slab)
            .enumerate()
            .flat_map_iter(|(z, cells)| {
                cells
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| **v)
                    .map(move |(i, _)| (z * slab + i) as u32)
            })
            .collect()
    }

    /// How many voxels are occupied.
    pub fn count(&self) -> usize {
        self.occupied.iter().filter(|v| **v).count()
    }

    /// Whether voxel `(x, y, z)` is occupied; outside the grid is empty.
    pub fn get(&self, x: i64, y: i64, z: i64) -> bool {
        let n = i64::from(self.resolution);
        if x < 0 || y < 0 || z < 0 || x >= n || y >= n || z >= n {
            return false;
        }
        self.occupied[(x + n * (y + n * z)) as usize]
    }

    /// The hull's silhouette seen by `camera`: each occupied voxel on the surface is
    /// drawn as the convex polygon its corners project to, filling the pixels whose
    /// centres lie inside it.
    pub fn render_mask(&self, camera: &Camera) -> Mask {
        let depth = self.render_depth(camera);
        let mut mask = Mask::empty(camera.width, camera.height);
        for ((x, y), (_, voxel)) in depth.nearest.pixels() {
            if voxel != u32::MAX {
                mask.set(x as u32, y as u32, true);
            }
        }
        mask
    }

    /// The hull as `camera` sees it: per pixel, the nearest surface voxel and its depth
    /// (a z-buffer of the voxels' projected footprints; a voxel far smaller than a pixel marks the
    /// pixel its centre falls in).
    pub fn render_depth(&self, camera: &Camera) -> DepthMap {
        self.render_depth_of(&self.surface(), camera, Faces::All)
    }

    /// The occupied voxels with an empty face-neighbour: all that any camera can see.
    pub fn surface(&self) -> Surface {
        let n = self.resolution as usize;
        let occupied = &self.occupied;
        // Row by row along x (each row's neighbours are whole rows beside it).
        let (voxels, open) = (0..n * n)
            .into_par_iter()
            .flat_map_iter(|row| {
                let (y, z) = (row % n, row / n);
                let at = |y: usize, z: usize| &occupied[(y + n * z) * n..(y + n * z + 1) * n];
                // A row outside the grid is empty.
                let beside = |inside: bool, y: usize, z: usize| {
                    if inside { at(y, z) } else { &[][..] }
                };
                let this = at(y, z);
                let rows = [
                    beside(y > 0, y.wrapping_sub(1), z),
                    beside(y + 1 < n, y + 1, z),
                    beside(z > 0, y, z.wrapping_sub(1)),
                    beside(z + 1 < n, y, z + 1),
                ];
                (0..n).filter(|&x| this[x]).filter_map(move |x| {
                    let filled = |row: &[bool]| row.get(x).copied().unwrap_or(false);
                    let faces = [
                        x > 0 && this[x - 1],
                        x + 1 < n && this[x + 1],
                        filled(rows[0]),
                        filled(rows[1]),
                        filled(rows[2]),
                        filled(rows[3]),
                    ];
                    let open = faces
                        .iter()
                        .enumerate()
                        .fold(0u8, |bits, (face, filled)| bits | u8::from(!filled) << face);
                    (open != 0).then_some(((x + n * row) as u32, open))
                })
            })
            .unzip();
        Surface { voxels, open }
    }

    /// [`Hull::render_depth`] from the hull's [`Hull::surface`], computed once for many
    /// cameras; with [`Faces::Front`], only the voxels with an open face toward the camera.
    pub fn render_depth_of(&self, surface: &Surface, camera: &Camera, faces: Faces) -> DepthMap {
        let voxel = self.voxel_size();
        let projector = camera.projector();
        let diagonal = voxel.length();
        let focal = camera.k.x_axis.x.abs().max(camera.k.y_axis.y.abs());
        let width = camera.width as usize;
        let (eye, half) = (camera.center(), voxel * 0.5);
        // Per voxel drawn: the pixel (row-major index), the depth, the voxel; and the window
        // of the pixels drawn.
        let slabs: Vec<(Hits, [u32; 4])> = surface
            .voxels
            .par_chunks(4096)
            .zip(surface.open.par_chunks(4096))
            .map(|(chunk, open)| {
                let mut hits = Vec::with_capacity(chunk.len());
                let mut window = [u32::MAX, u32::MAX, 0, 0];
                let mut hit = |px: u32, py: u32, depth: f32, index: u32| {
                    window = [
                        window[0].min(px),
                        window[1].min(py),
                        window[2].max(px + 1),
                        window[3].max(py + 1),
                    ];
                    hits.push((py * width as u32 + px, depth, index));
                };
                // Voxels far smaller than a pixel cover the pixel their centre falls in; their
                // centres wait here to be projected eight at a time (and are, before any other
                // voxel is drawn, so the hits keep their order).
                let mut small = Centres::default();
                for (&index, &open) in chunk.iter().zip(open) {
                    let [x, y, z] = self.cell(index);
                    let lo = self.bounds.min + voxel * DVec3::new(x as f64, y as f64, z as f64);
                    let centre = lo + voxel * 0.5;
                    if faces == Faces::Front && open & facing(eye - centre, half) == 0 {
                        // Every open face turns away: the voxels in front of it hide it.
                        continue;
                    }
                    let depth = projector.depth(centre);
                    if depth > 0.0 && diagonal * focal < SUBPIXEL * depth {
                        if small.push(centre, depth as f32, index) {
                            small.draw(camera, &projector, &mut hit);
                        }
                        continue;
                    }
                    small.draw(camera, &projector, &mut hit);
                    footprint(camera, &projector, lo, lo + voxel, |px, py| {
                        hit(px, py, depth as f32, index);
                    });
                }
                small.draw(camera, &projector, &mut hit);
                (hits, window)
            })
            .collect();
        // Only the window the hull covers is stored: a venue camera sees a small athlete.
        let window = slabs
            .iter()
            .map(|(_, w)| *w)
            .reduce(|a, b| {
                [
                    a[0].min(b[0]),
                    a[1].min(b[1]),
                    a[2].max(b[2]),
                    a[3].max(b[3]),
                ]
            })
            .filter(|w| w[0] < w[2])
            .unwrap_or([0; 4])
            .map(|v| v as usize);
        let mut nearest = Window::filled(window, (f32::INFINITY, u32::MAX));
        for (i, depth, index) in slabs.into_iter().flat_map(|(hits, _)| hits) {
            let (px, py) = (i as usize % width, i as usize / width);
            let seen = nearest
                .get_mut(px, py)
                .expect("a pixel drawn lies in the window");
            if depth < seen.0 {
                *seen = (depth, index);
            }
        }
        DepthMap {
            width: camera.width,
            height: camera.height,
            nearest,
        }
    }

    /// Whether the ray from `origin` along `direction` passes through an occupied voxel.
    pub fn meets(&self, origin: DVec3, direction: DVec3) -> bool {
        self.first_hit(origin, direction).is_some()
    }

    /// The centre of the first occupied voxel the ray from `origin` along `direction`
    /// passes through (every voxel it crosses is visited in order, by Amanatides and Woo's
    /// traversal).
    pub fn first_hit(&self, origin: DVec3, direction: DVec3) -> Option<DVec3> {
        let n = i64::from(self.resolution);
        let voxel = self.voxel_size();
        traverse(
            origin,
            direction,
            self.bounds.min,
            voxel,
            [0; 3],
            [n; 3],
            |c| self.get(c[0], c[1], c[2]).then(|| self.cell_center(c)),
        )
    }

    /// The hull for many rays: [`HullRays::first_hit`] crosses empty space a block of voxels
    /// at a time.
    pub fn rays(&self) -> HullRays<'_> {
        let n = self.resolution as usize;
        let b = n.div_ceil(RAY_BLOCK);
        // A layer of blocks (RAY_BLOCK slices of the grid) at a time, in parallel.
        let blocks = self
            .occupied
            .par_chunks(n * n * RAY_BLOCK)
            .flat_map_iter(|slices| {
                let mut layer = vec![false; b * b];
                for (row, cells) in slices.chunks_exact(n).enumerate() {
                    let y = row % n;
                    for (bx, chunk) in cells.chunks(RAY_BLOCK).enumerate() {
                        if chunk.contains(&true) {
                            layer[bx + b * (y / RAY_BLOCK)] = true;
                        }
                    }
                }
                layer
            })
            .collect();
        HullRays { hull: self, blocks }
    }

    /// The centre of voxel `(x, y, z)`.
    fn cell_center(&self, [x, y, z]: [i64; 3]) -> DVec3 {
        self.bounds.min + self.voxel_size() * (DVec3::new(x as f64, y as f64, z as f64) + 0.5)
    }

    /// The centre of voxel `index` (as stored in a [`DepthMap`]).
    pub fn voxel_center(&self, index: u32) -> DVec3 {
        self.cell_center(self.cell(index).map(|v| v as i64))
    }

    /// The grid position `[x, y, z]` of voxel `index` (`x + n (y + n z)`): shifts and masks
    /// for a power-of-two grid (every carved one), where three divisions cost more than
    /// projecting the voxel does.
    #[inline]
    pub fn cell(&self, index: u32) -> [usize; 3] {
        let (n, i) = (self.resolution as usize, index as usize);
        if n.is_power_of_two() {
            let (bits, last) = (n.trailing_zeros(), n - 1);
            [i & last, (i >> bits) & last, i >> (2 * bits)]
        } else {
            [i % n, i / n % n, i / (n * n)]
        }
    }
}

/// Voxels per axis of a block [`HullRays`] skips at once when it is empty.
const RAY_BLOCK: usize = 8;

/// A hull prepared for many rays (see [`Hull::rays`]).
pub struct HullRays<'h> {
    hull: &'h Hull,
    /// Per block of [`RAY_BLOCK`]³ voxels, whether any is occupied.
    blocks: Vec<bool>,
}

impl HullRays<'_> {
    /// [`Hull::first_hit`], crossing empty blocks whole.
    pub fn first_hit(&self, origin: DVec3, direction: DVec3) -> Option<DVec3> {
        let hull = self.hull;
        let n = i64::from(hull.resolution);
        let k = RAY_BLOCK as i64;
        let b = (n + k - 1) / k;
        let voxel = hull.voxel_size();
        traverse(
            origin,
            direction,
            hull.bounds.min,
            voxel * k as f64,
            [0; 3],
            [b; 3],
            |c| {
                if !self.blocks[(c[0] + b * (c[1] + b * c[2])) as usize] {
                    return None;
                }
                let lo = c.map(|v| v * k);
                let hi = lo.map(|v| (v + k).min(n));
                traverse(origin, direction, hull.bounds.min, voxel, lo, hi, |v| {
                    hull.get(v[0], v[1], v[2]).then(|| hull.cell_center(v))
                })
            },
        )
    }
}

/// Amanatides and Woo's traversal of the cells `lo..hi` (per axis) of a grid with its corner
/// at `min` and cells of `cell`: `visit` is called on every cell the ray from `origin` along
/// `direction` crosses, in order, until it returns something.
fn traverse<T>(
    origin: DVec3,
    direction: DVec3,
    min: DVec3,
    cell: DVec3,
    lo: [i64; 3],
    hi: [i64; 3],
    mut visit: impl FnMut([i64; 3]) -> Option<T>,
) -> Option<T> {
    // Where the ray enters and leaves the cells' box (the slab method).
    let (mut enter, mut leave) = (0.0f64, f64::INFINITY);
    for k in 0..3 {
        let (o, d) = (origin[k], direction[k]);
        let (a, b) = (
            min[k] + lo[k] as f64 * cell[k],
            min[k] + hi[k] as f64 * cell[k],
        );
        if d.abs() < 1e-12 {
            if o < a || o > b {
                return None;
            }
            continue;
        }
        let (a, b) = ((a - o) / d, (b - o) / d);
        enter = enter.max(a.min(b));
        leave = leave.min(a.max(b));
    }
    if enter > leave {
        return None;
    }
    let entry = (origin + direction * enter - min) / cell;
    let mut at = [0, 1, 2].map(|k| (entry[k].floor() as i64).clamp(lo[k], hi[k] - 1));
    // Per axis: the step between cells, the ray parameter of the next cell boundary, and
    // the parameter between boundaries.
    let mut step = [0i64; 3];
    let mut next = [f64::INFINITY; 3];
    let mut delta = [f64::INFINITY; 3];
    for k in 0..3 {
        let d = direction[k];
        if d.abs() < 1e-12 {
            continue;
        }
        step[k] = if d > 0.0 { 1 } else { -1 };
        let boundary = at[k] + i64::from(d > 0.0);
        next[k] = (min[k] + boundary as f64 * cell[k] - origin[k]) / d;
        delta[k] = cell[k] / d.abs();
    }
    loop {
        if let Some(found) = visit(at) {
            return Some(found);
        }
        let axis = if next[0] <= next[1] && next[0] <= next[2] {
            0
        } else if next[1] <= next[2] {
            1
        } else {
            2
        };
        if next[axis] > leave {
            return None;
        }
        at[axis] += step[axis];
        if at[axis] < lo[axis] || at[axis] >= hi[axis] {
            return None;
        }
        next[axis] += delta[axis];
    }
}

/// Up to eight voxels smaller than a pixel, waiting to be drawn (see
/// [`Hull::render_depth_of`]): centres, depths and indices.
#[derive(Default)]
struct Centres {
    centres: [DVec3; 8],
    voxels: [(f32, u32); 8],
    count: usize,
}

impl Centres {
    /// Adds a voxel; whether the eight are now full.
    fn push(&mut self, centre: DVec3, depth: f32, index: u32) -> bool {
        self.centres[self.count] = centre;
        self.voxels[self.count] = (depth, index);
        self.count += 1;
        self.count == 8
    }

    /// Draws the voxels waiting (each as the pixel its centre falls in) and empties the list.
    fn draw(
        &mut self,
        camera: &Camera,
        projector: &Projector,
        hit: &mut impl FnMut(u32, u32, f32, u32),
    ) {
        if self.count == 0 {
            return;
        }
        let pixels = projector.project_all(&self.centres);
        for (p, (depth, index)) in pixels.iter().zip(self.voxels).take(self.count) {
            if let Some(p) = p.filter(|p| camera.in_image(*p)) {
                hit(round(p.x) as u32, round(p.y) as u32, depth, index);
            }
        }
        self.count = 0;
    }
}

/// The voxels a depth map draws: per pixel drawn, its row-major index, the depth and the
/// voxel.
type Hits = Vec<(u32, f32, u32)>;

/// A hull's surface (see [`Hull::surface`]).
#[derive(Debug, Clone, Default)]
pub struct Surface {
    /// The voxels' indices `x + n (y + n z)`, in that order.
    pub voxels: Vec<u32>,
    /// Per voxel, its faces with no occupied neighbour: bit 0 for −x, 1 +x, 2 −y, 3 +y, 4 −z,
    /// 5 +z.
    pub open: Vec<u8>,
}

/// Which surface voxels a depth map draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Faces {
    /// Every one: silhouettes, where a voxel on the rim may show only a face turned away.
    All,
    /// Those with an open face toward the camera: the near surface, about half the voxels.
    Front,
}

/// The faces of a voxel (bits as in [`Surface::open`]) whose outer side holds the eye, with
/// `to_eye` from the voxel's centre and `half` its half size: the faces it can see.
fn facing(to_eye: DVec3, half: DVec3) -> u8 {
    u8::from(to_eye.x < -half.x)
        | u8::from(to_eye.x > half.x) << 1
        | u8::from(to_eye.y < -half.y) << 2
        | u8::from(to_eye.y > half.y) << 3
        | u8::from(to_eye.z < -half.z) << 4
        | u8::from(to_eye.z > half.z) << 5
}

/// A hull seen from one camera.
#[derive(Debug, Clone)]
pub struct DepthMap {
    /// Width of the image in pixels.
    pub width: u32,
    /// Height of the image in pixels.
    pub height: u32,
    /// Over the window of pixels the hull covers (outside it the hull is not seen), per
    /// pixel: the camera-space depth of the nearest surface voxel and that voxel's index
    /// (`x + n (y + n z)`); infinity and `u32::MAX` where the hull is not seen.
    pub nearest: Window<(f32, u32)>,
}

impl DepthMap {
    /// The depth at a (rounded) pixel position, infinite where the hull is not seen.
    pub fn depth_at(&self, x: f64, y: f64) -> f32 {
        let (x, y) = (round(x), round(y));
        if x < 0 || y < 0 {
            return f32::INFINITY;
        }
        self.nearest
            .at(x as usize, y as usize)
            .map_or(f32::INFINITY, |(depth, _)| depth)
    }
}

/// `v.floor()` as an integer, without a libm call (these run per cell, view and pixel).
fn floor(v: f64) -> i64 {
    let t = v as i64;
    t - i64::from(t as f64 > v)
}

/// `v.ceil()` as an integer, without a libm call.
fn ceil(v: f64) -> i64 {
    let t = v as i64;
    t + i64::from((t as f64) < v)
}

/// `v.round()` (halves away from zero) as an integer, without a libm call.
fn round(v: f64) -> i64 {
    if v >= 0.0 {
        (v + 0.5) as i64
    } else {
        -((0.5 - v) as i64)
    }
}

/// Calls `pixel(x, y)` for the pixels whose centres lie inside the projection of a box
/// (nothing if a corner is behind the camera).
fn footprint(
    camera: &Camera,
    projector: &Projector,
    lo: DVec3,
    hi: DVec3,
    mut pixel: impl FnMut(u32, u32),
) {
    let mut corners = [DVec2::ZERO; 8];
    let (mut min, mut max) = (DVec2::splat(f64::INFINITY), DVec2::splat(f64::NEG_INFINITY));
    for (corner, p) in corners
        .iter_mut()
        .zip(projector.project_all(&box_corners(lo, hi)))
    {
        let Some(p) = p else {
            return;
        };
        *corner = p;
        min = min.min(p);
        max = max.max(p);
    }
    let x0 = min.x.ceil().max(0.0) as u32;
    let y0 = min.y.ceil().max(0.0) as u32;
    let x1 = (max.x.floor() + 1.0).min(f64::from(camera.width)).max(0.0) as u32;
    let y1 = (max.y.floor() + 1.0).min(f64::from(camera.height)).max(0.0) as u32;
    // Most voxels of a fine grid cover a pixel centre or none: no polygon for those.
    if x0 >= x1 || y0 >= y1 {
        return;
    }
    let polygon = ConvexPolygon::around(&mut corners);
    for py in y0..y1 {
        for px in x0..x1 {
            if polygon.contains(DVec2::new(f64::from(px), f64::from(py))) {
                pixel(px, py);
            }
        }
    }
}

/// The convex hull of a box's eight projected corners, counter-clockwise.
struct ConvexPolygon {
    vertices: [DVec2; 16],
    len: usize,
}

impl ConvexPolygon {
    /// The convex hull of points (Andrew's monotone chain), without allocating.
    fn around(points: &mut [DVec2; 8]) -> ConvexPolygon {
        points.sort_unstable_by(|a, b| a.x.total_cmp(&b.x).then(a.y.total_cmp(&b.y)));
        let cross = |o: DVec2, a: DVec2, b: DVec2| (a - o).perp_dot(b - o);
        let mut hull = ConvexPolygon {
            vertices: [DVec2::ZERO; 16],
            len: 0,
        };
        for pass in 0..2 {
            let start = hull.len;
            for k in 0..points.len() {
                let p = if pass == 0 {
                    points[k]
                } else {
                    points[points.len() - 1 - k]
                };
                while hull.len >= start + 2
                    && cross(hull.vertices[hull.len - 2], hull.vertices[hull.len - 1], p) <= 0.0
                {
                    hull.len -= 1;
                }
                hull.vertices[hull.len] = p;
                hull.len += 1;
            }
            hull.len -= 1;
        }
        hull
    }

    fn contains(&self, p: DVec2) -> bool {
        if self.len < 3 {
            return false;
        }
        let v = &self.vertices[..self.len];
        (0..v.len()).all(|i| {
            let (a, b) = (v[i], v[(i + 1) % v.len()]);
            (b - a).perp_dot(p - a) >= 0.0
        })
    }
}

/// Leave-one-view-out silhouette IoU: for each view, carve from all the others, render the
/// hull into the view left out, and compare with its own silhouette. Returns one IoU per view.
pub fn leave_one_out(
    cameras: &[Camera],
    masks: &[Mask],
    bounds: Bounds,
    carving: Carving,
) -> Vec<f64> {
    assert_eq!(cameras.len(), masks.len(), "one mask per camera");
    (0..cameras.len())
        .map(|left_out| {
            let views: Vec<View<'_>> = (0..cameras.len())
                .filter(|i| *i != left_out)
                .map(|i| View::new(&cameras[i], &masks[i]))
                .collect();
            let hull = carve(&views, bounds, carving);
            crate::metrics::iou(&hull.render_mask(&cameras[left_out]), &masks[left_out])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 16³ hull over the unit cube with a few occupied voxels.
    fn scattered() -> Hull {
        let n = 16usize;
        let mut occupied = vec![false; n * n * n];
        for (x, y, z) in [(3, 4, 5), (10, 10, 10), (15, 0, 7), (8, 2, 13)] {
            occupied[x + n * (y + n * z)] = true;
        }
        Hull {
            bounds: Bounds {
                min: DVec3::ZERO,
                max: DVec3::ONE,
            },
            resolution: n as u32,
            occupied,
        }
    }

    /// Marches a ray in tiny steps: what [`Hull::meets`] must agree with.
    fn marched(hull: &Hull, origin: DVec3, direction: DVec3) -> bool {
        let voxel = hull.voxel_size();
        (0..200_000).any(|i| {
            let p = (origin + direction * (f64::from(i) * 2e-5) - hull.bounds.min) / voxel;
            hull.get(p.x.floor() as i64, p.y.floor() as i64, p.z.floor() as i64)
        })
    }

    #[test]
    fn a_ray_meets_the_hull_where_a_fine_march_does() {
        let hull = scattered();
        let mut state = 12345u64;
        let mut random = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let (mut hits, mut misses) = (0, 0);
        for _ in 0..400 {
            let origin = DVec3::new(random() * 3.0 - 1.0, random() * 3.0 - 1.0, -0.5);
            // Aimed at a point inside the box, sometimes at an occupied voxel's centre.
            let target = if random() < 0.3 {
                hull.voxel_center(10 + 16 * (10 + 16 * 10))
            } else {
                DVec3::new(random(), random(), random())
            };
            let direction = (target - origin).normalize();
            let expected = marched(&hull, origin, direction);
            assert_eq!(
                hull.meets(origin, direction),
                expected,
                "{origin} {direction}"
            );
            assert_eq!(
                hull.rays().first_hit(origin, direction),
                hull.first_hit(origin, direction),
                "by blocks: {origin} {direction}"
            );
            if expected { hits += 1 } else { misses += 1 }
        }
        assert!(hits > 50 && misses > 50, "{hits} hits, {misses} misses");
    }

    #[test]
    fn the_front_faces_alone_draw_the_same_near_surface() {
        // A cup: a ball with a ball bitten out of one side, so some near voxels face away.
        let n = 64usize;
        let at = |i: usize| (i as f64 + 0.5) / n as f64;
        let mut occupied = vec![false; n * n * n];
        for (i, v) in occupied.iter_mut().enumerate() {
            let p = DVec3::new(at(i % n), at(i / n % n), at(i / (n * n)));
            let bite = DVec3::new(0.5, 0.75, 0.6);
            *v = p.distance(DVec3::splat(0.5)) < 0.4 && p.distance(bite) > 0.25;
        }
        let hull = Hull {
            bounds: Bounds {
                min: DVec3::ZERO,
                max: DVec3::ONE,
            },
            resolution: n as u32,
            occupied,
        };
        let surface = hull.surface();
        let diagonal = hull.voxel_size().length() as f32;
        for (eye, focal) in [
            (DVec3::new(0.5, 3.0, 0.9), 300.0),
            (DVec3::new(-2.0, -1.0, 0.4), 120.0),
            (DVec3::new(2.5, 2.0, 2.5), 60.0),
        ] {
            let k = glam::DMat3::from_cols(
                DVec3::new(focal, 0.0, 0.0),
                DVec3::new(0.0, focal, 0.0),
                DVec3::new(160.0, 120.0, 1.0),
            );
            let camera = Camera::look_at("eye", eye, DVec3::splat(0.5), DVec3::Z, k, 320, 240);
            let all = hull.render_depth_of(&surface, &camera, Faces::All);
            let front = hull.render_depth_of(&surface, &camera, Faces::Front);
            let mut covered = 0;
            for i in 0..320 * 240 {
                let (x, y) = (f64::from(i % 320), f64::from(i / 320));
                let (a, f) = (all.depth_at(x, y), front.depth_at(x, y));
                assert_eq!(a.is_finite(), f.is_finite(), "{eye} pixel {i}");
                if a.is_finite() {
                    covered += 1;
                    assert!((a - f).abs() <= diagonal, "{eye} pixel {i}: {a} {f}");
                }
            }
            assert!(covered > 150, "{eye}: {covered} pixels");
        }
    }

    #[test]
    fn the_surface_is_every_voxel_with_an_open_face() {
        // Nine voxels in ten set by a hash, and every voxel of the faces x = 0 and y = 0.
        let n = 12i64;
        let mut hull = scattered();
        hull.resolution = n as u32;
        hull.occupied = (0..n * n * n)
            .map(|i| (i * 2_654_435_761 % 97) < 90 || i % n == 0 || i % (n * n) < n)
            .collect();
        let surface = hull.surface();
        let mut want = (Vec::new(), Vec::new());
        for z in 0..n {
            for y in 0..n {
                for x in 0..n {
                    if !hull.get(x, y, z) {
                        continue;
                    }
                    let around = [
                        (x - 1, y, z),
                        (x + 1, y, z),
                        (x, y - 1, z),
                        (x, y + 1, z),
                        (x, y, z - 1),
                        (x, y, z + 1),
                    ];
                    let open = (0..6)
                        .filter(|&f| {
                            let (x, y, z) = around[f];
                            !hull.get(x, y, z)
                        })
                        .fold(0u8, |bits, f| bits | 1 << f);
                    if open != 0 {
                        want.0.push((x + n * (y + n * z)) as u32);
                        want.1.push(open);
                    }
                }
            }
        }
        assert!(want.0.len() > 100 && want.0.len() < hull.count());
        assert_eq!((surface.voxels, surface.open), want);
    }

    #[test]
    fn integer_floor_ceil_and_round_match_the_float_ones() {
        for v in [
            -3.0, -2.5, -2.2, -0.5, -0.2, 0.0, 0.2, 0.5, 1.0, 1.5, 2.7, 1e9, -1e9,
        ] {
            assert_eq!(floor(v), v.floor() as i64, "floor {v}");
            assert_eq!(ceil(v), v.ceil() as i64, "ceil {v}");
            assert_eq!(round(v), v.round() as i64, "round {v}");
        }
    }

    #[test]
    fn a_voxel_index_decodes_to_its_cell_on_any_grid() {
        for n in [4u32, 12, 16, 128] {
            let hull = Hull {
                bounds: Bounds {
                    min: DVec3::ZERO,
                    max: DVec3::ONE,
                },
                resolution: n,
                occupied: Vec::new(),
            };
            let n = n as usize;
            for [x, y, z] in [
                [0, 0, 0],
                [n - 1, 0, 0],
                [1, n - 1, 2],
                [n - 1, n - 1, n - 1],
            ] {
                assert_eq!(
                    hull.cell((x + n * (y + n * z)) as u32),
                    [x, y, z],
                    "n = {n}"
                );
            }
        }
    }

    #[test]
    fn a_ray_along_an_axis_or_away_from_the_box_is_handled() {
        let hull = scattered();
        let centre = hull.voxel_center(3 + 16 * (4 + 16 * 5));
        assert!(hull.meets(DVec3::new(centre.x, centre.y, -1.0), DVec3::Z));
        assert!(!hull.meets(DVec3::new(centre.x, centre.y, -1.0), -DVec3::Z));
        assert!(!hull.meets(DVec3::new(0.5, 0.5, 2.0), DVec3::X));
    }
}
