package containers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/client"
)

// Leftovers counts what Down would remove.
type Leftovers struct {
	Containers, Volumes, Networks int
}

func (l Leftovers) String() string {
	return fmt.Sprintf("%d containers, %d volumes, %d networks", l.Containers, l.Volumes, l.Networks)
}

// filter selects the topology runID, or every topology for "".
func filter(runID string) client.Filters {
	if runID == "" {
		return client.Filters{}.Add("label", LabelManaged+"=true")
	}
	return client.Filters{}.Add("label", LabelRun+"="+runID)
}

// Find counts the containers, volumes and networks of the topology runID
// ("" for every topology), running or not.
func Find(ctx context.Context, cli client.APIClient, runID string) (Leftovers, error) {
	var l Leftovers
	cs, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: filter(runID)})
	if err != nil {
		return l, err
	}
	vs, err := cli.VolumeList(ctx, client.VolumeListOptions{Filters: filter(runID)})
	if err != nil {
		return l, err
	}
	ns, err := cli.NetworkList(ctx, client.NetworkListOptions{Filters: filter(runID)})
	if err != nil {
		return l, err
	}
	return Leftovers{len(cs.Items), len(vs.Items), len(ns.Items)}, nil
}

// Down removes the containers (with their volumes) and networks of the
// topology runID, or of every topology for "", and returns what it
// removed. Nothing without the labels is touched.
func Down(ctx context.Context, cli client.APIClient, runID string) error {
	_, err := down(ctx, cli, runID)
	return err
}

// DownRun removes the topology runID and says what it removed.
func DownRun(ctx context.Context, cli client.APIClient, runID string) (Leftovers, error) {
	if runID == "" {
		return Leftovers{}, errors.New("no topology id given")
	}
	return down(ctx, cli, runID)
}

// DownAll removes what every topology left behind (crashed runs).
func DownAll(ctx context.Context, cli client.APIClient) (Leftovers, error) { return down(ctx, cli, "") }

func down(ctx context.Context, cli client.APIClient, runID string) (Leftovers, error) {
	var l Leftovers
	var errs []error
	// Containers first: volumes and networks in use cannot go.
	cs, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: filter(runID)})
	if err != nil {
		return l, fmt.Errorf("list containers: %w", err)
	}
	// At once: each removal waits for its container to die.
	cerrs := make([]error, len(cs.Items))
	var wg sync.WaitGroup
	for i, c := range cs.Items {
		wg.Go(func() {
			if _, err := cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
				cerrs[i] = fmt.Errorf("remove container %s: %w", c.ID[:12], err)
			}
		})
	}
	wg.Wait()
	for _, err := range cerrs {
		if err != nil {
			errs = append(errs, err)
			continue
		}
		l.Containers++
	}
	vs, err := cli.VolumeList(ctx, client.VolumeListOptions{Filters: filter(runID)})
	if err != nil {
		errs = append(errs, fmt.Errorf("list volumes: %w", err))
	} else {
		for _, v := range vs.Items {
			if _, err := cli.VolumeRemove(ctx, v.Name, client.VolumeRemoveOptions{Force: true}); err != nil {
				errs = append(errs, fmt.Errorf("remove volume %s: %w", v.Name, err))
				continue
			}
			l.Volumes++
		}
	}
	ns, err := cli.NetworkList(ctx, client.NetworkListOptions{Filters: filter(runID)})
	if err != nil {
		errs = append(errs, fmt.Errorf("list networks: %w", err))
	} else {
		for _, n := range ns.Items {
			if _, err := cli.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err != nil {
				errs = append(errs, fmt.Errorf("remove network %s: %w", n.Name, err))
				continue
			}
			l.Networks++
		}
	}
	return l, errors.Join(errs...)
}

// PruneImages removes the images EnsureImage built (one per replcheck
// binary, kept as a cache) except keep and those a container still uses,
// and returns how many it removed.
func PruneImages(ctx context.Context, cli client.APIClient, keep string) (int, error) {
	// By name, and by label for an image whose tag a later build of the
	// same binary took.
	var imgs []image.Summary
	seen := map[string]bool{}
	for _, f := range []client.Filters{client.Filters{}.Add("reference", ImageRepo), client.Filters{}.Add("label", LabelManaged+"=true")} {
		l, err := cli.ImageList(ctx, client.ImageListOptions{Filters: f})
		if err != nil {
			return 0, fmt.Errorf("list images: %w", err)
		}
		for _, img := range l.Items {
			if !seen[img.ID] {
				seen[img.ID] = true
				imgs = append(imgs, img)
			}
		}
	}
	cs, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true})
	if err != nil {
		return 0, fmt.Errorf("list containers: %w", err)
	}
	used := map[string]bool{}
	for _, c := range cs.Items {
		used[c.ImageID] = true
	}
	n := 0
	var errs []error
	for _, img := range imgs {
		if used[img.ID] || slices.Contains(img.RepoTags, keep) {
			continue
		}
		if _, err := cli.ImageRemove(ctx, img.ID, client.ImageRemoveOptions{Force: true, PruneChildren: true}); err != nil {
			errs = append(errs, fmt.Errorf("remove image %s: %w", strings.Join(img.RepoTags, ","), err))
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}
