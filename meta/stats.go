package meta

import (
	"context"
	"time"

	"github.com/havenhub/haven"
)

// LikedRepo is a repository a user likes, and since when.
type LikedRepo struct {
	Repo      *haven.Repo
	CreatedAt time.Time
}

// DayCount is the number of downloads of a repository on one UTC day.
type DayCount struct {
	Day   time.Time
	Count int64
}

// The windows of the counters kept on each repository.
const (
	downloadsWindow = 30 // days counted in Repo.Downloads, today included
	trendingWindow  = 7  // days counted in Repo.TrendingScore, today included
	// trendingLikeWeight is what one recent like is worth against one
	// recent download in the trending score.
	trendingLikeWeight = 100
)

// refreshCounters recomputes the counters kept on repository rows from
// the likes and downloads tables; the caller appends a WHERE clause.
//
// Repo.TrendingScore is trendingLikeWeight × the likes of the last
// trendingWindow days + the downloads of those days.
const refreshCounters = `UPDATE repos SET
	likes = (SELECT COUNT(*) FROM likes l WHERE l.repo_id = repos.id),
	downloads = (SELECT COALESCE(SUM(d.count), 0) FROM downloads d WHERE d.repo_id = repos.id AND d.day >= ?),
	downloads_all_time = (SELECT COALESCE(SUM(d.count), 0) FROM downloads d WHERE d.repo_id = repos.id),
	trending_score = ? * (SELECT COUNT(*) FROM likes l WHERE l.repo_id = repos.id AND l.created_at >= ?)
		+ (SELECT COALESCE(SUM(d.count), 0) FROM downloads d WHERE d.repo_id = repos.id AND d.day >= ?)`

// counterArgs are the arguments of refreshCounters as of now.
func counterArgs() []any {
	today := dayOf(time.Now())
	trendingStart := today.AddDate(0, 0, 1-trendingWindow)
	return []any{today.AddDate(0, 0, 1-downloadsWindow), trendingLikeWeight, trendingStart, trendingStart}
}

// refreshRepoCounters recomputes the counters of one repository. The caller
// holds the repository's row lock (lockRepo), so that the recount sees every
// change committed before its own.
func refreshRepoCounters(ctx context.Context, c conn, repoID int64) error {
	_, err := c.exec(ctx, refreshCounters+" WHERE id = ?", append(counterArgs(), repoID)...)
	return err
}

// lockRepo locks a repository row until the end of the transaction, which
// serialises the changes to its counters.
func (s *Store) lockRepo(ctx context.Context, c conn, repoID int64) error {
	var id int64
	err := c.queryRow(ctx, "SELECT id FROM repos WHERE id = ?"+s.d.lockRow, repoID).Scan(&id)
	return noRows(err, errRepoIDNotFound(repoID))
}

// RefreshCounters recomputes the download, like and trending counters of
// every repository. Counts over a window of days only shrink when this
// runs, so it is meant to run daily.
func (s *Store) RefreshCounters(ctx context.Context) error {
	_, err := s.conn().exec(ctx, refreshCounters, counterArgs()...)
	return err
}

// dayOf returns the start of t's UTC day.
func dayOf(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// Like records that a user likes a repository; liking twice is the same as
// liking once.
func (s *Store) Like(ctx context.Context, userID, repoID int64) error {
	return s.inTx(ctx, func(c conn) error {
		if err := s.lockRepo(ctx, c, repoID); err != nil {
			return err
		}
		_, err := c.exec(ctx, "INSERT INTO likes (user_id, repo_id, created_at) VALUES (?, ?, ?) ON CONFLICT (user_id, repo_id) DO NOTHING",
			userID, repoID, now())
		if isForeignKeyViolation(err) {
			return errUserIDNotFound(userID)
		}
		if err != nil {
			return err
		}
		return refreshRepoCounters(ctx, c, repoID)
	})
}

// Unlike removes a like; removing a like that is not there does nothing.
func (s *Store) Unlike(ctx context.Context, userID, repoID int64) error {
	return s.inTx(ctx, func(c conn) error {
		if err := s.lockRepo(ctx, c, repoID); err != nil {
			return err
		}
		if _, err := c.exec(ctx, "DELETE FROM likes WHERE user_id = ? AND repo_id = ?", userID, repoID); err != nil {
			return err
		}
		return refreshRepoCounters(ctx, c, repoID)
	})
}

// LikedRepos lists the repositories a user likes, most recently liked first.
func (s *Store) LikedRepos(ctx context.Context, userID int64) ([]LikedRepo, error) {
	rows, err := s.conn().query(ctx, "SELECT "+repoColumns+`, l.created_at FROM likes l JOIN repos r ON r.id = l.repo_id
		WHERE l.user_id = ? ORDER BY l.created_at DESC, r.id DESC`, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var liked []LikedRepo
	for rows.Next() {
		var at time.Time
		r, err := scanRepo(rows, &at)
		if err != nil {
			return nil, err
		}
		liked = append(liked, LikedRepo{Repo: r, CreatedAt: at.UTC()})
	}
	return liked, rows.Err()
}

// Likers lists the users who like a repository, most recent first.
func (s *Store) Likers(ctx context.Context, repoID int64) ([]haven.User, error) {
	rows, err := s.conn().query(ctx, "SELECT "+userColumns+` FROM likes l JOIN users u ON u.id = l.user_id
		WHERE l.repo_id = ? ORDER BY l.created_at DESC, u.id DESC`, repoID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var users []haven.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		users = append(users, *u)
	}
	return users, rows.Err()
}

// AddDownloads counts n downloads of a repository on the UTC day of at and
// updates its counters: Repo.Downloads covers the last 30 days,
// Repo.DownloadsAllTime every day.
func (s *Store) AddDownloads(ctx context.Context, repoID int64, at time.Time, n int64) error {
	if n < 0 {
		return haven.Errorf(haven.EInvalid, "Invalid download count %d", n)
	}
	return s.inTx(ctx, func(c conn) error {
		if err := s.lockRepo(ctx, c, repoID); err != nil {
			return err
		}
		_, err := c.exec(ctx, `INSERT INTO downloads (repo_id, day, count) VALUES (?, ?, ?)
			ON CONFLICT (repo_id, day) DO UPDATE SET count = downloads.count + excluded.count`, repoID, dayOf(at), n)
		if err != nil {
			return err
		}
		return refreshRepoCounters(ctx, c, repoID)
	})
}

// DownloadsByDay lists the daily download counts of a repository from the
// day of since on, oldest first; days without downloads are left out.
func (s *Store) DownloadsByDay(ctx context.Context, repoID int64, since time.Time) ([]DayCount, error) {
	rows, err := s.conn().query(ctx, "SELECT day, count FROM downloads WHERE repo_id = ? AND day >= ? ORDER BY day", repoID, dayOf(since))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var days []DayCount
	for rows.Next() {
		var dc DayCount
		if err := rows.Scan(&dc.Day, &dc.Count); err != nil {
			return nil, err
		}
		dc.Day = dc.Day.UTC()
		days = append(days, dc)
	}
	return days, rows.Err()
}
